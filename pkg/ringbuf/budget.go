package ringbuf

import "sync"

// Budget is a byte cap shared by several rings (all streams' pre-event
// buffers together). A ring takes from it what its data area grows to as
// its bitrate is measured (not its per-stream cap), gives back what it
// shrinks by and everything on Close, so the total goes to the streams that
// need it. The cap is soft at the bottom: a ring always has at least the
// smallest data area, so a stream past the total still records, with a
// shorter pre-event buffer.
type Budget struct {
	mu    sync.Mutex
	total int
	used  int
}

// NewBudget returns a cap of total bytes across rings.
func NewBudget(total int) *Budget { return &Budget{total: total} }

// take grants up to want bytes, page-rounded: all of them when force is
// set (the smallest area, a unit that must fit), else what is left.
func (b *Budget) take(want int, force bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := want
	if !force {
		got = max(0, min(want, b.total-b.used)/headerSize*headerSize)
	}
	b.used += got
	return got
}

func (b *Budget) give(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// Used is the bytes granted to open rings.
func (b *Budget) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
