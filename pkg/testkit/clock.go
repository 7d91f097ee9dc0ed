package testkit

import (
	"sync"
	"time"
)

// Clock is a time source a test moves by hand, so code that reads the time
// through an injected Now func sees expiry, windows and ages without sleeping.
// It is safe for use from several goroutines.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that stands at start until moved.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time; pass the method value as a Now option.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
