package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Shutdown priorities: higher stops first; equal priorities stop together.
const (
	PriorityDetection = 100
	PriorityRecorders = 80
	PriorityLive      = 60
	PriorityAPI       = 40
	PriorityGo2RTC    = 0
)

// DefaultTimeout applies to components registered with a timeout <= 0.
const DefaultTimeout = 10 * time.Second

// Report is the outcome of stopping one component.
type Report struct {
	Name     string
	Priority int
	// Err is what stop returned, the recovered panic, or for a hung
	// component the context error that made shutdown give up on it.
	Err      error
	Duration time.Duration
	// Hung means stop had not returned by its deadline; shutdown went on
	// without it and its goroutine may still be running.
	Hung bool
}

type component struct {
	name     string
	priority int
	timeout  time.Duration
	stop     func(context.Context) error
}

// Coordinator stops registered components in priority order. It is safe
// for concurrent use.
type Coordinator struct {
	log *slog.Logger

	mu      sync.Mutex
	comps   []component
	started bool
	done    chan struct{} // closed when the first Shutdown finished
	reports []Report
}

// New returns a Coordinator logging to logger (nil: slog.Default()).
func New(logger *slog.Logger) *Coordinator {
	if logger == nil {
		logger = slog.Default()
	}
	return &Coordinator{log: logger, done: make(chan struct{})}
}

// Register adds a component. stop receives a context whose deadline is
// timeout (DefaultTimeout if <= 0), capped by the context given to
// Shutdown; it should return once the component has stopped. A component
// registered after Shutdown began is stopped at once, synchronously, since
// nothing else would stop it.
func (c *Coordinator) Register(name string, priority int, timeout time.Duration, stop func(ctx context.Context) error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	comp := component{name: name, priority: priority, timeout: timeout, stop: stop}
	c.mu.Lock()
	if !c.started {
		c.comps = append(c.comps, comp)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.log.Warn("component registered during shutdown, stopping it now", "component", name)
	c.logReport(c.stopOne(context.Background(), comp))
}

// Shutdown stops all components: groups in descending priority, the
// members of a group concurrently, each within its own timeout. It returns
// one Report per component, in stop order (registration order within a
// group). It is idempotent: later and concurrent calls wait for the first
// and return its reports. If ctx ends, components still running are
// reported hung and the remaining ones are still called, with a done
// context, so they can release what they can without blocking.
func (c *Coordinator) Shutdown(ctx context.Context) []Report {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		<-c.done
		return slices.Clone(c.reports)
	}
	c.started = true
	comps := slices.Clone(c.comps)
	c.mu.Unlock()

	slices.SortStableFunc(comps, func(a, b component) int { return cmp.Compare(b.priority, a.priority) })
	start := time.Now()
	c.log.Info("shutdown started", "components", len(comps))
	var reports []Report
	for i := 0; i < len(comps); {
		j := i
		for j < len(comps) && comps[j].priority == comps[i].priority {
			j++
		}
		group := comps[i:j]
		out := make([]Report, len(group))
		var wg sync.WaitGroup
		for k, comp := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[k] = c.stopOne(ctx, comp)
			}()
		}
		wg.Wait()
		for _, r := range out {
			c.logReport(r)
		}
		reports = append(reports, out...)
		i = j
	}
	c.log.Info("shutdown finished", "duration", time.Since(start).Round(time.Millisecond), "hung", countHung(reports))

	c.mu.Lock()
	c.reports = reports
	c.mu.Unlock()
	close(c.done)
	return slices.Clone(reports)
}

// stopOne runs one stop function and waits for it at most until its
// deadline. The stop goroutine is owned by the component: when it hangs we
// can only cancel its context and leave it; the buffered channel lets it
// finish later without leaking a blocked send.
func (c *Coordinator) stopOne(parent context.Context, comp component) Report {
	ctx, cancel := context.WithTimeout(parent, comp.timeout)
	defer cancel()
	res := make(chan error, 1)
	start := time.Now()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				res <- fmt.Errorf("stop %s panicked: %v", comp.name, p)
			}
		}()
		res <- comp.stop(ctx)
	}()
	r := Report{Name: comp.name, Priority: comp.priority}
	select {
	case err := <-res:
		r.Err = err
	case <-ctx.Done():
		// A stop that returned right at the deadline did not hang.
		select {
		case err := <-res:
			r.Err = err
		default:
			r.Hung = true
			r.Err = fmt.Errorf("stop %s: %w", comp.name, ctx.Err())
		}
	}
	r.Duration = time.Since(start)
	return r
}

func (c *Coordinator) logReport(r Report) {
	attrs := []any{"component", r.Name, "priority", r.Priority, "duration", r.Duration.Round(time.Millisecond)}
	switch {
	case r.Hung:
		c.log.Error("component did not stop in time, abandoned", append(attrs, "err", r.Err)...)
	case r.Err != nil:
		c.log.Warn("component stopped with error", append(attrs, "err", r.Err)...)
	default:
		c.log.Info("component stopped", attrs...)
	}
}

func countHung(rs []Report) int {
	n := 0
	for _, r := range rs {
		if r.Hung {
			n++
		}
	}
	return n
}
