package media

import (
	"sync"
	"sync/atomic"
)

// Hub fans the units of one stream out to its subscribers. Publish never
// blocks: a subscriber whose buffer is full loses the unit and the loss is
// counted on that subscriber.
type Hub struct {
	mu     sync.RWMutex
	subs   []*Subscription
	closed bool

	desc atomic.Pointer[Desc]
	gen  atomic.Uint64
}

// NewHub returns an empty hub with no description yet.
func NewHub() *Hub { return &Hub{} }

// Subscription receives units from a Hub on a bounded channel. Every unit
// received holds a reference to its payload for the subscriber: calling
// Release once done with the payload lets the buffer serve a later unit.
// A subscriber that never releases (one that keeps units for a while) only
// costs an allocation per unit, and units left in the channel when it
// closes are simply collected.
type Subscription struct {
	name    string
	hub     *Hub
	ch      chan *Unit
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe adds a subscriber with a buffer of buf units (at least 1).
// The channel is closed by Unsubscribe or by the hub's Close.
func (h *Hub) Subscribe(name string, buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{name: name, hub: h, ch: make(chan *Unit, buf)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.ch)
		return s
	}
	// Copy on write: Publish iterates a slice it never sees mutated.
	subs := make([]*Subscription, len(h.subs), len(h.subs)+1)
	copy(subs, h.subs)
	h.subs = append(subs, s)
	return s
}

// C is the channel units arrive on.
func (s *Subscription) C() <-chan *Unit { return s.ch }

// Name is the name given at Subscribe.
func (s *Subscription) Name() string { return s.name }

// Dropped counts units this subscriber lost because its buffer was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Unsubscribe removes the subscriber and closes its channel. It is safe to
// call more than once.
func (s *Subscription) Unsubscribe() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, o := range h.subs {
		if o == s {
			subs := make([]*Subscription, 0, len(h.subs)-1)
			subs = append(subs, h.subs[:i]...)
			h.subs = append(subs, h.subs[i+1:]...)
			break
		}
	}
	s.once.Do(func() { close(s.ch) })
}

// Publish hands u to every subscriber without blocking. Each subscriber
// that gets u gets a reference to its payload with it (see Unit.Release).
func (h *Hub) Publish(u *Unit) {
	h.mu.RLock()
	for _, s := range h.subs {
		u.retain()
		select {
		case s.ch <- u:
		default:
			u.Release()
			s.dropped.Add(1)
		}
	}
	h.mu.RUnlock()
}

// Dropped sums the losses of all current subscribers.
func (h *Hub) Dropped() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var n uint64
	for _, s := range h.subs {
		n += s.dropped.Load()
	}
	return n
}

// Subscribers returns the number of current subscribers.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// Desc returns the current description, nil before the first one.
func (h *Hub) Desc() *Desc { return h.desc.Load() }

// SetDesc publishes a new description; its Gen is assigned here.
func (h *Hub) SetDesc(d *Desc) *Desc {
	d.Gen = h.gen.Add(1)
	h.desc.Store(d)
	return d
}

// Close closes every subscriber's channel; later subscribers get a closed
// channel at once.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, s := range h.subs {
		s.once.Do(func() { close(s.ch) })
	}
	h.subs = nil
}
