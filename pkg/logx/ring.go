package logx

import (
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultRingBytes is the ring budget when Options.RingBytes is not set.
const DefaultRingBytes = 256 << 10

// Accounting per record and per attribute, on top of the string bytes: the
// Record struct, the map header and buckets. Charging them keeps the budget
// honest for floods of tiny records.
const (
	recordOverhead = 128
	attrOverhead   = 32
	minRingBytes   = 4 * recordOverhead
)

// Record is one log record kept by the Ring. Attrs keys are flattened with
// their groups ("stream.name"); values are already redacted. Attrs is shared
// between callers and must not be modified.
type Record struct {
	Seq       uint64            `json:"seq"`
	Time      time.Time         `json:"time"`
	Level     slog.Level        `json:"level"`
	Message   string            `json:"msg"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	Truncated bool              `json:"truncated,omitempty"`
}

// Ring keeps the most recent records within a byte budget, evicting the
// oldest first. It is safe for concurrent use.
type Ring struct {
	mu     sync.Mutex
	max    int
	used   int
	buf    []Record // circular, len(buf) is the capacity
	sizes  []int
	head   int // index of the oldest record
	n      int
	seq    uint64
	notify chan struct{}
}

// NewRing returns a ring holding at most maxBytes of records (see Bytes).
// maxBytes <= 0 selects DefaultRingBytes; tiny budgets are raised to a few
// records.
func NewRing(maxBytes int) *Ring {
	if maxBytes <= 0 {
		maxBytes = DefaultRingBytes
	}
	if maxBytes < minRingBytes {
		maxBytes = minRingBytes
	}
	return &Ring{max: maxBytes}
}

// Cap is the byte budget.
func (r *Ring) Cap() int { return r.max }

// Bytes is the accounted size of the records held now; it never exceeds Cap.
func (r *Ring) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.used
}

// Len is the number of records held now.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// LastSeq is the Seq of the newest record ever added (0 before the first),
// the cursor a live viewer starts from.
func (r *Ring) LastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// Changed returns a channel closed when the next record is added, so a
// live viewer can wait without polling: read Since(cursor), then wait on a
// channel taken before that read.
func (r *Ring) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notify == nil {
		r.notify = make(chan struct{})
	}
	return r.notify
}

// Records returns up to limit of the newest records at or above minLevel,
// newest last. limit <= 0 means all.
func (r *Ring) Records(minLevel slog.Level, limit int) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for i := r.n - 1; i >= 0; i-- {
		rec := &r.buf[(r.head+i)%len(r.buf)]
		if rec.Level < minLevel {
			continue
		}
		out = append(out, *rec)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Since returns the records with Seq > seq, oldest first. If records after
// seq were already evicted, the first returned Seq is greater than seq+1,
// which tells the viewer it missed some.
func (r *Ring) Since(seq uint64) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Seqs are consecutive inside the ring, so the start index is computed.
	if r.n == 0 || seq >= r.seq {
		return nil
	}
	oldest := r.buf[r.head].Seq
	skip := 0
	if seq >= oldest {
		skip = int(seq - oldest + 1)
	}
	out := make([]Record, 0, r.n-skip)
	for i := skip; i < r.n; i++ {
		out = append(out, r.buf[(r.head+i)%len(r.buf)])
	}
	return out
}

// Clear drops all records. Seq keeps counting so cursors stay valid.
func (r *Ring) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf, r.sizes = nil, nil
	r.head, r.n, r.used = 0, 0, 0
}

type kv struct{ k, v string }

// add stores one record built from already flattened, redacted attributes.
func (r *Ring) add(t time.Time, level slog.Level, msg string, attrs []kv) {
	rec := Record{Time: t, Level: level, Message: msg}
	size := recordOverhead + len(msg)
	for _, a := range attrs {
		size += attrOverhead + len(a.k) + len(a.v)
	}
	if size > r.max {
		size = r.truncate(&rec, attrs)
	} else if len(attrs) > 0 {
		rec.Attrs = make(map[string]string, len(attrs))
		for _, a := range attrs {
			rec.Attrs[a.k] = a.v
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	rec.Seq = r.seq
	for r.n > 0 && r.used+size > r.max {
		r.used -= r.sizes[r.head]
		r.buf[r.head] = Record{} // release strings and map
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
	if r.n == len(r.buf) {
		r.grow()
	}
	i := (r.head + r.n) % len(r.buf)
	r.buf[i], r.sizes[i] = rec, size
	r.n++
	r.used += size
	if r.notify != nil {
		close(r.notify)
		r.notify = nil
	}
}

func (r *Ring) grow() {
	c := 2 * len(r.buf)
	if c == 0 {
		c = 64
	}
	if limit := r.max / recordOverhead; c > limit {
		c = limit
	}
	buf := make([]Record, c)
	sizes := make([]int, c)
	for i := 0; i < r.n; i++ {
		j := (r.head + i) % len(r.buf)
		buf[i], sizes[i] = r.buf[j], r.sizes[j]
	}
	r.buf, r.sizes, r.head = buf, sizes, 0
}

// truncate fits a record larger than the whole budget: the message gets at
// most half of it, then attributes are kept in order while they fit. The
// kept strings are cloned so a huge source string is not pinned.
func (r *Ring) truncate(rec *Record, attrs []kv) int {
	rec.Truncated = true
	size := recordOverhead
	if room := (r.max - recordOverhead) / 2; len(rec.Message) > room {
		rec.Message = strings.Clone(cutUTF8(rec.Message, room))
	}
	size += len(rec.Message)
	for _, a := range attrs {
		c := attrOverhead + len(a.k) + len(a.v)
		if size+c > r.max {
			continue
		}
		if rec.Attrs == nil {
			rec.Attrs = make(map[string]string)
		}
		rec.Attrs[a.k] = a.v
		size += c
	}
	return size
}

// cutUTF8 shortens s to at most n bytes without splitting a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
