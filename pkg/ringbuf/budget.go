package ringbuf

import "sync"

// Budget is a byte cap shared by several rings (all streams' pre-event
// buffers together). A ring opened with one takes its size from what is
// left and gives it back on Close. The cap is soft at the bottom: a ring
// always gets at least the smallest data area, so a stream past the total
// still records, with a shorter pre-event buffer.
type Budget struct {
	mu    sync.Mutex
	total int
	used  int
}

// NewBudget returns a cap of total bytes across rings.
func NewBudget(total int) *Budget { return &Budget{total: total} }

// take grants up to want bytes (page-rounded, at least minLimit).
func (b *Budget) take(want int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := max(min(want, b.total-b.used)/headerSize*headerSize, minLimit)
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
