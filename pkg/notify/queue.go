package notify

import "sync"

// message is one MQTT publication waiting for the broker.
type message struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// queue is the bounded FIFO every notifier keeps what it could not deliver
// yet in: push never blocks, and past the bound (in count, or in the bytes
// size reports) the oldest items are dropped and counted.
type queue[T any] struct {
	mu       sync.Mutex
	q        []queued[T]
	bytes    int
	max      int
	maxBytes int // 0: no byte bound
	size     func(T) int
	dropped  uint64
	seq      uint64
	ready    chan struct{} // signalled (never blocking) on push
}

// queued is an item with its place in line: it tells a sent item from its successor.
type queued[T any] struct {
	v   T
	seq uint64
}

// newQueue bounds the queue to max items and, when size is set, to maxBytes.
func newQueue[T any](max, maxBytes int, size func(T) int) *queue[T] {
	if size == nil {
		size = func(T) int { return 0 }
	}
	return &queue[T]{max: max, maxBytes: maxBytes, size: size, ready: make(chan struct{}, 1)}
}

func messageSize(m message) int { return len(m.payload) }

// push queues v behind everything queued before it.
func (o *queue[T]) push(v T) {
	o.mu.Lock()
	o.seq++
	o.q = append(o.q, queued[T]{v: v, seq: o.seq})
	o.bytes += o.size(v)
	for len(o.q) > 1 && (len(o.q) > o.max || (o.maxBytes > 0 && o.bytes > o.maxBytes)) {
		o.dropHead()
		o.dropped++
	}
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

func (o *queue[T]) dropHead() {
	o.bytes -= o.size(o.q[0].v)
	o.q[0] = queued[T]{}
	o.q = o.q[1:]
}

// peek returns the oldest item without removing it.
func (o *queue[T]) peek() (queued[T], bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) == 0 {
		return queued[T]{}, false
	}
	return o.q[0], true
}

// pop removes the oldest item once it is delivered. An item dropped
// meanwhile (the queue overflowed while it was in flight) takes its
// successor with it only if it is still the head.
func (o *queue[T]) pop(it queued[T]) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) > 0 && o.q[0].seq == it.seq {
		o.dropHead()
	}
}

// take removes and returns the oldest item.
func (o *queue[T]) take() (T, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) == 0 {
		var zero T
		return zero, false
	}
	v := o.q[0].v
	o.dropHead()
	return v, true
}

// counts are the queued items and those dropped so far.
func (o *queue[T]) counts() (depth int, dropped uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q), o.dropped
}

// resize changes the bound; a smaller one drops the oldest at the next push.
func (o *queue[T]) resize(max int) {
	o.mu.Lock()
	o.max = max
	o.mu.Unlock()
}
