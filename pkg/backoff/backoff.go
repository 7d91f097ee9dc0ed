// Package backoff is the one exponential wait between attempts used by every
// retry loop: go2rtc restarts, RTSP reconnects, recorder retries and the
// keyframe probe.
package backoff

import (
	"context"
	"time"
)

// Backoff waits Min before the first retry and doubles the wait after each
// one, up to Max. The zero value of its cursor starts at Min; a Backoff is
// owned by one loop and is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration

	next time.Duration
}

// Or returns b with a bound that is not set (zero or negative; Max below
// Min) taken from def, so option structs can leave it zero.
func (b Backoff) Or(def Backoff) Backoff {
	if b.Min <= 0 {
		b.Min = def.Min
	}
	if b.Max <= 0 {
		b.Max = def.Max
	}
	b.Max = max(b.Max, b.Min)
	b.next = 0
	return b
}

// Next returns the wait before the coming retry and doubles the one after.
func (b *Backoff) Next() time.Duration {
	d := b.next
	if d <= 0 {
		d = b.Min
	}
	b.next = min(2*d, b.Max)
	return d
}

// Reset starts again at Min: the last attempt worked.
func (b *Backoff) Reset() { b.next = 0 }

// Wait sleeps Next() unless ctx ends first, and then returns ctx's error.
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Next()) }

// Sleep waits d unless ctx ends first, and then returns ctx's error: the
// fixed wait of a polling loop, next to the growing one of Wait.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
