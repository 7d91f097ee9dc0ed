// Command clockwatch runs on the emulated board during the scale test and
// reports when its clocks or its Go timers misbehave, so that a stall of
// every stream can be told apart from a stall of the board's time itself.
//
// Two loops run side by side:
//
//   - One sleeps 5 ms at a time in the kernel (nanosleep, not the runtime's
//     timers) and reads CLOCK_MONOTONIC by system call after each sleep. A
//     reading behind the one before, or more than a second past it, is a
//     jump of the kernel's clock, and is printed with CLOCK_BOOTTIME's and
//     CLOCK_REALTIME's moves over the same sleep.
//   - One sleeps 50 ms at a time on a Go timer (time.Sleep), as the daemon's
//     readers do. A sleep that lasts over a second is a timer the runtime
//     fired late, and is printed with how far each clock moved meanwhile.
//
// Every minute it prints how many sleeps each loop made and the longest.
// It prints nothing else, so a quiet log over a stall clears the clocks.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	kernelSleep = 5 * time.Millisecond
	timerSleep  = 50 * time.Millisecond
	// A clock step or a sleep longer than this is reported.
	late = time.Second
)

var mu sync.Mutex

func say(format string, args ...any) {
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(os.Stdout, "%s clockwatch: %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// clock reads one of the kernel's clocks by system call.
func clock(id int32) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		say("clock_gettime(%d): %v", id, err)
		os.Exit(1)
	}
	return time.Duration(ts.Nano())
}

// clocks is the three clocks read together.
type clocks struct{ mono, boot, real time.Duration }

func readClocks() clocks {
	return clocks{clock(unix.CLOCK_MONOTONIC), clock(unix.CLOCK_BOOTTIME), clock(unix.CLOCK_REALTIME)}
}

func (c clocks) since(p clocks) string {
	return fmt.Sprintf("monotonic %+v, boottime %+v, realtime %+v", c.mono-p.mono, c.boot-p.boot, c.real-p.real)
}

// loopStats is what a loop reports each minute.
type loopStats struct {
	n       int
	longest time.Duration
}

func (s *loopStats) add(d time.Duration) {
	s.n++
	s.longest = max(s.longest, d)
}

func kernelLoop(stats *loopStats) {
	ts := unix.NsecToTimespec(int64(kernelSleep))
	prev := readClocks()
	for {
		if err := unix.Nanosleep(&ts, nil); err != nil && err != unix.EINTR {
			say("nanosleep: %v", err)
			os.Exit(1)
		}
		now := readClocks()
		d := now.mono - prev.mono
		mu.Lock()
		stats.add(d)
		mu.Unlock()
		if d < 0 || d > late {
			say("kernel sleep of %v: %s", kernelSleep, now.since(prev))
		}
		prev = now
	}
}

func timerLoop(stats *loopStats) {
	prev, prevGo := readClocks(), time.Now()
	for {
		time.Sleep(timerSleep)
		now, nowGo := readClocks(), time.Now()
		d := nowGo.Sub(prevGo)
		mu.Lock()
		stats.add(d)
		mu.Unlock()
		if d < 0 || d > late {
			say("Go timer sleep of %v took %v: %s", timerSleep, d, now.since(prev))
		}
		prev, prevGo = now, nowGo
	}
}

func main() {
	var kernel, timer loopStats
	go kernelLoop(&kernel)
	go timerLoop(&timer)
	say("watching: kernel sleeps of %v, Go timer sleeps of %v; reporting steps and sleeps over %v", kernelSleep, timerSleep, late)
	for {
		// The minute's report rides on a kernel sleep too: a runtime whose
		// timers stopped would otherwise silence it.
		ts := unix.NsecToTimespec(int64(time.Minute))
		_ = unix.Nanosleep(&ts, nil)
		mu.Lock()
		k, g := kernel, timer
		kernel, timer = loopStats{}, loopStats{}
		mu.Unlock()
		say("minute: %d kernel sleeps (longest %v), %d Go timer sleeps (longest %v)", k.n, k.longest, g.n, g.longest)
	}
}
