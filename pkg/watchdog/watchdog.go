// Package watchdog feeds a Linux watchdog device (/dev/watchdog) while the
// daemon says it is healthy, so a hung, crashed or persistently unhealthy
// daemon resets the board.
package watchdog

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"
)

// Health says why the daemon cannot do its job; "" when it can.
type Health func(context.Context) string

// Dog holds the open device and the goroutine that feeds it.
type Dog struct {
	f       *os.File
	every   time.Duration
	grace   time.Duration
	healthy Health
	log     *slog.Logger
	stop    chan struct{}
	done    chan struct{}
}

// Start opens the device at path, sets its timeout (a plain file, which
// has none, is fed all the same) and feeds it every timeout/3 while healthy
// says so; for grace after Start the daemon is assumed healthy while its
// parts come up. Closing the device without Stop (a crash) leaves the timer
// running: the board resets unless a new daemon opens it in time.
func Start(path string, timeout, grace time.Duration, healthy Health, log *slog.Logger) (*Dog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("watchdog: open %s: %w", path, err)
	}
	if timeout, err = setTimeout(f, timeout); err != nil {
		f.Close()
		return nil, fmt.Errorf("watchdog: set the timeout of %s: %w", path, err)
	}
	d := &Dog{f: f, every: max(timeout/3, time.Second), grace: grace, healthy: healthy, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d, nil
}

// run pings at once and then every d.every, as long as the daemon is
// healthy; it logs each change between feeding and not feeding once.
func (d *Dog) run() {
	defer close(d.done)
	started := time.Now()
	t := time.NewTicker(d.every)
	defer t.Stop()
	starving := false
	for {
		why := ""
		if time.Since(started) >= d.grace {
			why = d.check()
		}
		switch {
		case why != "" && !starving:
			d.log.Error("watchdog: unhealthy, no longer feeding it: the board resets unless health returns", "reason", why)
		case why == "" && starving:
			d.log.Info("watchdog: healthy again, feeding it")
		}
		starving = why != ""
		if !starving {
			// Any byte but 'V' is a ping that also cancels a magic close.
			if _, err := d.f.Write([]byte{0}); err != nil {
				d.log.Warn("watchdog: ping", "err", err)
			}
		}
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
	}
}

// check asks the daemon's health, bounded so a hung check is a hang.
func (d *Dog) check() string {
	ctx, cancel := context.WithTimeout(context.Background(), d.every)
	defer cancel()
	verdict := make(chan string, 1)
	go func() { verdict <- d.healthy(ctx) }()
	// A check that outlives its own deadline starves the device as surely
	// as a failed one, but says nothing: on the board that is a reset with
	// an empty log. So it is logged, with where the check stands, while
	// there is still time to read it.
	late := time.NewTimer(d.every + checkSlack)
	defer late.Stop()
	began := time.Now()
	for {
		select {
		case why := <-verdict:
			if waited := time.Since(began); waited > d.every+checkSlack {
				d.log.Warn("watchdog: the health check answered late", "after", waited.Round(time.Millisecond))
			}
			return why
		case <-late.C:
			d.log.Warn("watchdog: the health check has not answered past its deadline; not feeding until it does",
				"after", time.Since(began).Round(time.Millisecond), "stack", checkStack())
		case <-d.stop:
			// The check's goroutine ends when it answers; its verdict is
			// no longer wanted.
			return ""
		}
	}
}

// checkSlack is how long past its context's deadline a check may take to
// answer before the feeder says it has not.
const checkSlack = time.Second

// checkStack is the call stack of the goroutine running the health check,
// one frame after the other, innermost first: what it waits on.
func checkStack() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "watchdog.(*Dog).check.func") {
			continue
		}
		var frames []string
		lines := strings.Split(g, "\n")
		frames = append(frames, lines[0])
		for _, l := range lines[1:] {
			if l != "" && !strings.HasPrefix(l, "\t") {
				frames = append(frames, l)
			}
		}
		return strings.Join(frames, " < ")
	}
	return "not found"
}

// Stop ends feeding and closes the device with the magic 'V', which
// disarms it: a clean stop, restart or power-off does not reset the board.
// (A kernel built with WATCHDOG_NOWAYOUT ignores it; a restart must then
// reopen the device within the timeout.)
func (d *Dog) Stop(ctx context.Context) error {
	close(d.stop)
	select {
	case <-d.done:
	case <-ctx.Done():
		return fmt.Errorf("watchdog: stop: %w", ctx.Err())
	}
	_, err := d.f.Write([]byte("V"))
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("watchdog: magic close: %w", err)
	}
	return nil
}
