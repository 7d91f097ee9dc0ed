// Package diag builds the diagnostics report a support person reads on the serial
// console (`lightnvr diag`): version, uptime, memory, storage, network, go2rtc,
// streams, today's recordings, database integrity and the last warnings. It works
// whether the daemon runs or not: it asks the running daemon over loopback when it
// answers and falls back to the database and log file otherwise. Every section has
// its own deadline, so one wedged subsystem cannot hang the report.
package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"lightnvr/pkg/logx"
	"lightnvr/pkg/ota"
)

// Options are the report's inputs: plain values from the configuration, so that
// this package needs neither the API nor the stream manager.
type Options struct {
	ConfigPath  string // shown in the version section
	DBPath      string
	StoragePath string
	PIDFile     string // the daemon's pid file; its RSS is reported when it runs
	LogFile     string // fallback source of the last warnings when the daemon is down
	// HTTPBase is the daemon's web address on loopback, e.g. http://127.0.0.1:8080.
	HTTPBase string
	// Go2RTCAPI is go2rtc's API base, with its base path, e.g. http://127.0.0.1:1984/go2rtc.
	Go2RTCAPI string
	// Go2RTCUser and Go2RTCPassword authenticate to go2rtc's API (never printed).
	Go2RTCUser, Go2RTCPassword string
	// Timeout bounds each section; 0 means DefaultTimeout.
	Timeout time.Duration
	// DBTimeout bounds the sections that read the database (streams when the
	// daemon is down, recordings, database); 0 means DefaultDBTimeout. SQLite
	// runs as WebAssembly here, interpreted on MIPS: a full quick_check is slow.
	DBTimeout time.Duration
	// ProcRoot is where /proc is mounted; "" means /proc (tests point it elsewhere).
	ProcRoot string
	// ReleaseFile names the firmware release file; "" means /etc/lightnvr-release.
	ReleaseFile string
	// OTA is the A/B layout ([ota]); nil leaves the slots out of the report.
	OTA   *ota.System
	JSON  bool // Run writes the report as JSON
	Brief bool // Run writes one line per section
}

// Default section time limits, for Options.Timeout and Options.DBTimeout.
const (
	DefaultTimeout   = 3 * time.Second
	DefaultDBTimeout = 30 * time.Second
)

// Section statuses.
const (
	StatusOK      = "ok"
	StatusWarn    = "warn"
	StatusError   = "error"
	StatusTimeout = "timeout"
)

// Report is the whole diagnostics report, sections in a fixed order.
type Report struct {
	Generated time.Time `json:"generated"`
	Sections  []Section `json:"sections"`
}

// Section is one part of the report. Summary is its one-line form (--brief).
type Section struct {
	Name     string  `json:"name"`
	Status   string  `json:"status"`
	Summary  string  `json:"summary"`
	Items    []Item  `json:"items,omitempty"`
	Error    string  `json:"error,omitempty"`
	Duration float64 `json:"duration_ms"`
}

// Item is one key/value line of a section; values are already redacted.
type Item struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Section returns the named section, or nil.
func (r *Report) Section(name string) *Section {
	for i := range r.Sections {
		if r.Sections[i].Name == name {
			return &r.Sections[i]
		}
	}
	return nil
}

// builder collects one section's lines.
type builder struct {
	status  string
	summary string
	items   []Item
}

func (b *builder) add(key, format string, args ...any) {
	b.items = append(b.items, Item{Key: key, Value: logx.RedactURL(fmt.Sprintf(format, args...))})
}

func (b *builder) warn() {
	if b.status == StatusOK || b.status == "" {
		b.status = StatusWarn
	}
}

type sectionFunc func(c *collector, ctx context.Context, b *builder) error

// sections is the report's order; names are part of the output contract.
var sections = []struct {
	name string
	fn   sectionFunc
	db   bool // reads the database: DBTimeout applies
}{
	{"version", (*collector).version, false},
	{"uptime", (*collector).uptime, false},
	{"memory", (*collector).memory, false},
	{"storage", (*collector).storage, false},
	{"network", (*collector).network, false},
	{"go2rtc", (*collector).go2rtc, false},
	{"streams", (*collector).streams, true},
	{"recordings", (*collector).recordings, true},
	{"database", (*collector).database, true},
	{"logs", (*collector).logs, false},
}

// SectionNames lists the sections in report order.
func SectionNames() []string {
	out := make([]string, len(sections))
	for i, s := range sections {
		out[i] = s.name
	}
	return out
}

// Collect builds the report. Sections run concurrently, each under its own
// deadline; a section that misses it reports StatusTimeout.
func Collect(ctx context.Context, opt Options) *Report {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.DBTimeout <= 0 {
		opt.DBTimeout = DefaultDBTimeout
	}
	c := newCollector(opt)
	defer c.close()
	rep := &Report{Generated: time.Now(), Sections: make([]Section, len(sections))}
	done := make(chan int, len(sections))
	for i, s := range sections {
		go func() {
			limit := c.opt.Timeout
			if s.db {
				limit = c.opt.DBTimeout
			}
			rep.Sections[i] = c.run(ctx, s.name, limit, s.fn)
			done <- i
		}()
	}
	for range sections {
		<-done
	}
	return rep
}

// run executes one section. The section's goroutine is owned here: on timeout its
// context is cancelled and run still waits for it (every section honours ctx), but
// reports the timeout as soon as the deadline passes plus a short grace.
func (c *collector) run(parent context.Context, name string, limit time.Duration, fn sectionFunc) Section {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	b := &builder{status: StatusOK}
	errc := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("panic: %v", r)
			}
		}()
		errc <- fn(c, ctx, b)
	}()
	sec := Section{Name: name}
	select {
	case err := <-errc:
		sec.Status, sec.Summary, sec.Items = b.status, b.summary, b.items
		if err != nil {
			sec.Error = logx.RedactURL(err.Error())
			if errors.Is(err, context.DeadlineExceeded) {
				sec.Status = StatusTimeout
			} else {
				sec.Status = StatusError
			}
		}
	case <-time.After(limit + 200*time.Millisecond):
		// The section ignored its context (a blocking syscall): give up on it.
		// Its goroutine ends when the call returns; errc is buffered.
		sec.Status = StatusTimeout
		sec.Error = fmt.Sprintf("no answer within %s", limit)
	}
	if sec.Status == StatusTimeout && sec.Error == "" {
		sec.Error = fmt.Sprintf("no answer within %s", limit)
	}
	if sec.Summary == "" {
		switch {
		case sec.Error != "":
			sec.Summary = sec.Status + ": " + sec.Error
		default:
			sec.Summary = sec.Status
		}
	}
	sec.Duration = float64(time.Since(start).Microseconds()) / 1000
	return sec
}

// Run collects the report and writes it to w: text (the default), brief or JSON.
func Run(ctx context.Context, opt Options, w io.Writer) error {
	rep := Collect(ctx, opt)
	switch {
	case opt.JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case opt.Brief:
		return WriteBrief(w, rep)
	default:
		return WriteText(w, rep)
	}
}

// WriteText writes the full report: a header per section, then its lines.
func WriteText(w io.Writer, rep *Report) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "LightNVR diagnostics, %s\n", rep.Generated.Format(time.RFC3339))
	for _, s := range rep.Sections {
		fmt.Fprintf(&sb, "\n== %s == [%s]\n", s.Name, s.Status)
		if s.Error != "" {
			fmt.Fprintf(&sb, "  error: %s\n", s.Error)
		}
		width := 0
		for _, it := range s.Items {
			width = max(width, len(it.Key))
		}
		for _, it := range s.Items {
			fmt.Fprintf(&sb, "  %-*s  %s\n", width+1, it.Key+":", it.Value)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// WriteBrief writes one line per section, "name: summary".
func WriteBrief(w io.Writer, rep *Report) error {
	var sb strings.Builder
	for _, s := range rep.Sections {
		mark := ""
		if s.Status != StatusOK {
			mark = " [" + s.Status + "]"
		}
		fmt.Fprintf(&sb, "%-10s: %s%s\n", s.Name, s.Summary, mark)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
