package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// shutdownWithin runs Shutdown and fails the test if it has not returned
// within a generous bound (a hang guard, not a speed check).
func shutdownWithin(t *testing.T, c *Coordinator, ctx context.Context) []Report {
	t.Helper()
	res := make(chan []Report, 1)
	go func() { res <- c.Shutdown(ctx) }()
	select {
	case r := <-res:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("Shutdown did not return")
		return nil
	}
}

func TestShutdownOrder(t *testing.T) {
	c := New(quietLogger())
	order := make(chan string, 10)
	for _, comp := range []struct {
		name string
		prio int
	}{
		{"go2rtc", PriorityGo2RTC}, {"detect", PriorityDetection}, {"api", PriorityAPI},
		{"record", PriorityRecorders}, {"live", PriorityLive},
	} {
		c.Register(comp.name, comp.prio, 10*time.Second, func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("%s: stop context has no deadline", comp.name)
			}
			order <- comp.name
			return nil
		})
	}
	reports := shutdownWithin(t, c, context.Background())
	close(order)
	var got []string
	for n := range order {
		got = append(got, n)
	}
	want := "detect,record,live,api,go2rtc"
	if strings.Join(got, ",") != want {
		t.Fatalf("stop order %v, want %s", got, want)
	}
	var names []string
	for _, r := range reports {
		names = append(names, r.Name)
		if r.Err != nil || r.Hung {
			t.Errorf("report %+v", r)
		}
	}
	if strings.Join(names, ",") != want {
		t.Fatalf("report order %v", names)
	}
}

func TestSamePriorityConcurrent(t *testing.T) {
	c := New(quietLogger())
	// Each waits for the other to have started: sequential stopping would
	// leave the first one waiting until its timeout, i.e. hung.
	var ready sync.WaitGroup
	ready.Add(2)
	all := make(chan struct{})
	go func() { ready.Wait(); close(all) }()
	for _, name := range []string{"rec-a", "rec-b"} {
		c.Register(name, PriorityRecorders, 5*time.Second, func(ctx context.Context) error {
			ready.Done()
			select {
			case <-all:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	for _, r := range shutdownWithin(t, c, context.Background()) {
		if r.Hung || r.Err != nil {
			t.Fatalf("%s: hung=%v err=%v; same-priority components did not run concurrently", r.Name, r.Hung, r.Err)
		}
	}
}

func TestHungComponent(t *testing.T) {
	c := New(quietLogger())
	forever := make(chan struct{})
	t.Cleanup(func() { close(forever) }) // lets the abandoned goroutine end
	c.Register("stuck", PriorityDetection, 50*time.Millisecond, func(context.Context) error {
		<-forever // ignores its context on purpose
		return nil
	})
	var laterCalled atomic.Bool
	c.Register("go2rtc", PriorityGo2RTC, 10*time.Second, func(context.Context) error {
		laterCalled.Store(true)
		return nil
	})
	reports := shutdownWithin(t, c, context.Background())
	if len(reports) != 2 {
		t.Fatalf("reports %+v", reports)
	}
	stuck := reports[0]
	if stuck.Name != "stuck" || !stuck.Hung || !errors.Is(stuck.Err, context.DeadlineExceeded) {
		t.Fatalf("stuck report %+v", stuck)
	}
	if !laterCalled.Load() || reports[1].Hung {
		t.Fatalf("shutdown did not move on past the hung component: %+v", reports[1])
	}
}

func TestParentContextEnds(t *testing.T) {
	c := New(quietLogger())
	forever := make(chan struct{})
	t.Cleanup(func() { close(forever) })
	c.Register("stuck", 10, time.Hour, func(context.Context) error { <-forever; return nil })
	// Shutdown does not wait for it, so the call may land after Shutdown
	// returned; the channel catches it either way.
	afterCtxErr := make(chan error, 1)
	c.Register("after", 5, time.Hour, func(ctx context.Context) error {
		afterCtxErr <- ctx.Err()
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	reports := shutdownWithin(t, c, ctx)
	if !reports[0].Hung {
		t.Fatalf("component outliving the shutdown context not hung: %+v", reports[0])
	}
	select {
	case err := <-afterCtxErr:
		if err == nil {
			t.Fatalf("later component called with a live context")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("later component was never called")
	}
}

func TestErrorsReported(t *testing.T) {
	c := New(quietLogger())
	boom := errors.New("flush failed")
	c.Register("fails", 50, 10*time.Second, func(context.Context) error { return boom })
	c.Register("panics", 50, 10*time.Second, func(context.Context) error { panic("bad state") })
	c.Register("ok", 10, 10*time.Second, func(context.Context) error { return nil })
	reports := shutdownWithin(t, c, context.Background())
	byName := map[string]Report{}
	for _, r := range reports {
		byName[r.Name] = r
	}
	if r := byName["fails"]; !errors.Is(r.Err, boom) || r.Hung || r.Priority != 50 {
		t.Errorf("fails: %+v", r)
	}
	if r := byName["panics"]; r.Err == nil || !strings.Contains(r.Err.Error(), "bad state") || r.Hung {
		t.Errorf("panics: %+v", r)
	}
	if r := byName["ok"]; r.Err != nil {
		t.Errorf("ok: %+v", r)
	}
}

func TestShutdownIdempotent(t *testing.T) {
	c := New(quietLogger())
	var calls atomic.Int32
	c.Register("once", 10, 10*time.Second, func(context.Context) error {
		calls.Add(1)
		return errors.New("first result")
	})
	var wg sync.WaitGroup
	results := make([][]Report, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.Shutdown(context.Background())
		}()
	}
	wg.Wait()
	again := c.Shutdown(context.Background())
	if calls.Load() != 1 {
		t.Fatalf("stop called %d times", calls.Load())
	}
	for _, r := range append(results, again) {
		if len(r) != 1 || r[0].Name != "once" || r[0].Err == nil || r[0].Err.Error() != "first result" {
			t.Fatalf("result %+v", r)
		}
	}

	// A late registration is not forgotten.
	var late atomic.Bool
	c.Register("late", 10, 10*time.Second, func(context.Context) error { late.Store(true); return nil })
	if !late.Load() {
		t.Fatalf("component registered after shutdown was not stopped")
	}
}
