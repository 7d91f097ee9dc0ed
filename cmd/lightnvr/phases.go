package main

import (
	"log/slog"
	"os"
	"strings"
	"time"
)

// startPhases times the steps of `serve` start-up, logged once as one
// "start phases" line when the web UI is fully up: on a slow board the
// line says which step to look at. The first attribute is the machine's
// uptime when the process reached main, which lines the daemon up with
// the boot's own timestamps (rcS prints uptimes too).
type startPhases struct {
	started time.Time
	last    time.Time
	attrs   []any
}

func newStartPhases() *startPhases {
	now := time.Now()
	p := &startPhases{started: now, last: now}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if up, _, ok := strings.Cut(string(b), " "); ok {
			p.attrs = append(p.attrs, "uptime_at_main", up+"s")
		}
	}
	return p
}

// done ends the phase called name, which began where the last one ended.
func (p *startPhases) done(name string) {
	now := time.Now()
	p.attrs = append(p.attrs, name, now.Sub(p.last).Round(time.Millisecond))
	p.last = now
}

func (p *startPhases) log(l *slog.Logger) {
	l.Info("start phases", append(p.attrs, "total", time.Since(p.started).Round(time.Millisecond))...)
}
