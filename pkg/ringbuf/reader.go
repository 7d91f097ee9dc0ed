package ringbuf

import (
	"context"
	"time"

	"lightnvr/pkg/media"
)

// Reader reads a ring's units in order, from a keyframe on, then follows
// new units as they are written.
type Reader struct {
	r    *Ring
	next uint64
	wake chan struct{}
}

// NewReader returns a reader starting at the newest keyframe at least back
// before the newest unit, or at the oldest keyframe when none is that old.
// Close it when done.
func (r *Ring) NewReader(back time.Duration) (*Reader, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.keys.len() == 0 {
		return nil, ErrNoKeyframe
	}
	newest := r.entries.at(r.entries.len() - 1).u.Wall
	edge := newest.Add(-back)
	start := *r.keys.at(0)
	for i := 1; i < r.keys.len(); i++ {
		k := *r.keys.at(i)
		if r.entries.at(int(k - r.first)).u.Wall.After(edge) {
			break
		}
		start = k
	}
	rd := &Reader{r: r, next: start, wake: make(chan struct{}, 1)}
	r.readers[rd] = struct{}{}
	return rd, nil
}

func (rd *Reader) poke() {
	select {
	case rd.wake <- struct{}{}:
	default:
	}
}

// Next returns the next unit, waiting for it to be written. The unit's
// payload is a copy the caller owns; its NALUs are not filled in.
func (rd *Reader) Next(ctx context.Context) (*media.Unit, error) {
	r := rd.r
	for {
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			return nil, ErrClosed
		case rd.next < r.first:
			r.mu.Unlock()
			return nil, ErrOverrun
		case rd.next < r.first+uint64(r.entries.len()):
			e := r.entries.at(int(rd.next - r.first))
			u := e.u
			u.Payload = append([]byte(nil), r.data[e.off:e.off+e.n]...)
			rd.next++
			r.mu.Unlock()
			return &u, nil
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-rd.wake:
		}
	}
}

// Close detaches the reader from the ring.
func (rd *Reader) Close() {
	rd.r.mu.Lock()
	delete(rd.r.readers, rd)
	rd.r.mu.Unlock()
}
