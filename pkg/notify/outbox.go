package notify

import "sync"

// message is one MQTT publication waiting for the broker.
type message struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	seq     uint64 // set by the outbox: tells a sent message from its successor
}

// outbox is a bounded FIFO of messages: push never blocks, and past the
// bound (in count or bytes) the oldest messages are dropped and counted.
type outbox struct {
	mu       sync.Mutex
	q        []message
	bytes    int
	max      int
	maxBytes int
	dropped  uint64
	seq      uint64
	ready    chan struct{} // signalled (never blocking) on push
}

func newOutbox(max, maxBytes int) *outbox {
	return &outbox{max: max, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// push queues m behind everything queued before it.
func (o *outbox) push(m message) {
	o.mu.Lock()
	o.seq++
	m.seq = o.seq
	o.q = append(o.q, m)
	o.bytes += len(m.payload)
	for len(o.q) > 1 && (len(o.q) > o.max || o.bytes > o.maxBytes) {
		o.bytes -= len(o.q[0].payload)
		o.q[0] = message{}
		o.q = o.q[1:]
		o.dropped++
	}
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// peek returns the oldest message without removing it.
func (o *outbox) peek() (message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) == 0 {
		return message{}, false
	}
	return o.q[0], true
}

// pop removes the oldest message once the broker has it. A message dropped
// meanwhile (the queue overflowed while it was in flight) takes its
// successor with it only if m is still the head.
func (o *outbox) pop(m message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) > 0 && o.q[0].seq == m.seq {
		o.bytes -= len(o.q[0].payload)
		o.q[0] = message{}
		o.q = o.q[1:]
	}
}

// counts are the queued messages and those dropped so far.
func (o *outbox) counts() (depth int, dropped uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q), o.dropped
}

// resize changes the bound; a smaller one drops the oldest at the next push.
func (o *outbox) resize(max int) {
	o.mu.Lock()
	o.max = max
	o.mu.Unlock()
}
