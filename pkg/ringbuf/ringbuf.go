// Package ringbuf keeps a stream's last seconds of compressed access units
// (never decoded) so an event clip can begin before the event: the pre-event
// buffer. Payloads live in a memory-mapped file (on a tmpfs or the data disk),
// so they are page cache the kernel can reclaim, not Go heap; only a small
// index of the units (times, flags, offsets) and of their keyframes is kept on
// the heap.
//
// The ring is sized in seconds: it keeps everything from the newest keyframe
// at least Window before the newest unit. Its byte size follows the measured
// bitrate (so only the pages that window needs are ever touched), never
// beyond a per-stream cap.
//
// The pre-event buffer does not survive a restart: Open always starts the ring
// empty. The file holds no state a later run reads, so a process killed at any
// point (kill -9, power cut) cannot leave a ring that breaks the next start;
// the header only guards against mapping over a file that is not a ring.
package ringbuf

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"lightnvr/pkg/media"
)

// ErrOverrun: the reader fell behind and the units it was to read next were
// overwritten. Open a new reader to resume.
var ErrOverrun = errors.New("ringbuf: reader overrun")

// ErrClosed: the ring was closed.
var ErrClosed = errors.New("ringbuf: closed")

// ErrNoKeyframe: the ring holds no keyframe to start a reader at yet.
var ErrNoKeyframe = errors.New("ringbuf: no keyframe buffered")

const (
	headerSize = 4096 // one page: the data area stays page-aligned
	magic      = "LNVRRING"
	version    = 1
	// minLimit is the smallest data area used before the bitrate is known.
	minLimit = 256 << 10
)

// Config configures a Ring.
type Config struct {
	// Path of the ring file; created or rebuilt empty.
	Path string
	// Window is how far back a reader may start (pre_detection_buffer).
	Window time.Duration
	// MaxBytes caps the data area (the file is this size plus a page).
	MaxBytes int
	// Budget, if set, is the cap shared with other rings: the data area
	// grows only as far as it allows (see Budget).
	Budget *Budget
}

// Stats are a ring's figures.
type Stats struct {
	Units    int           // units held
	Bytes    int           // payload bytes held
	Limit    int           // bytes of the data area in use (follows the bitrate)
	Span     time.Duration // wall time from the oldest to the newest unit
	Overflow uint64        // units larger than the whole cap, dropped
	Cap      int           // the data area's cap (MaxBytes)
	// Starved: the data area is smaller than the bitrate asks for because
	// the Budget has nothing left; the pre-event buffer is shorter.
	Starved bool
}

// entry is one buffered unit: its metadata on the heap, its payload at off.
type entry struct {
	u   media.Unit // Payload and NALUs nil
	off int
	n   int
}

// Ring is one stream's pre-event buffer. Write is called by one goroutine;
// Readers may run on others.
type Ring struct {
	cfg  Config
	f    *os.File
	mem  []byte // the whole mapping
	data []byte // its data area (after the header)

	mu        sync.Mutex
	closed    bool
	entries   fifo[entry]
	keys      fifo[uint64] // numbers of the keyframe entries, oldest first
	first     uint64       // number of entries.at(0)
	w         int          // next write offset in data
	limit     int          // the data area wraps here
	bytes     int
	rate      float64   // measured payload bytes per second
	rateFrom  time.Time // the keyframe the bytes of rateBytes were written since
	rateBytes int
	gop       time.Duration
	lastKey   time.Time
	overflow  uint64
	starved   bool
	readers   map[*Reader]struct{}
}

// Open creates (or rebuilds empty) the ring file at cfg.Path and maps it.
// An existing file is reused only if it is empty or carries a ring header, so
// a wrong path never overwrites someone's data.
func Open(cfg Config) (*Ring, error) {
	if cfg.MaxBytes < minLimit {
		cfg.MaxBytes = minLimit
	}
	cfg.MaxBytes = (cfg.MaxBytes + headerSize - 1) / headerSize * headerSize
	if err := checkHeader(cfg.Path); err != nil {
		return nil, err
	}
	r, err := mapRing(cfg)
	if err == nil && cfg.Budget != nil {
		cfg.Budget.take(r.limit, true)
	}
	return r, err
}

// mapRing creates the ring file for cfg, sized and checked, and maps it.
func mapRing(cfg Config) (*Ring, error) {
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ringbuf: open %s: %w", cfg.Path, err)
	}
	// Truncating to 0 first drops every page of a previous run: the ring
	// starts empty and sparse.
	size := headerSize + cfg.MaxBytes
	if err = f.Truncate(0); err == nil {
		err = f.Truncate(int64(size))
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("ringbuf: size %s: %w", cfg.Path, err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("ringbuf: map %s: %w", cfg.Path, err)
	}
	copy(m, magic)
	m[len(magic)] = version
	r := &Ring{cfg: cfg, f: f, mem: m, data: m[headerSize:], limit: min(minLimit, cfg.MaxBytes), readers: map[*Reader]struct{}{}}
	return r, nil
}

// checkHeader refuses a non-empty file at path that is not a ring. A file
// whose header page is all zero is one a killed process had just created.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ringbuf: open %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	var h [len(magic) + 1]byte
	n, _ := f.ReadAt(h[:], 0)
	if n == 0 || string(h[:len(magic)]) == magic {
		return nil
	}
	for _, b := range h[:n] {
		if b != 0 {
			return fmt.Errorf("ringbuf: %s exists and is not a ring file", path)
		}
	}
	return nil
}

// Close unmaps and removes the ring file; readers get ErrClosed.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cfg.Budget != nil {
		r.cfg.Budget.give(r.limit)
	}
	for rd := range r.readers {
		rd.poke()
	}
	err := errors.Join(syscall.Munmap(r.mem), r.f.Close(), os.Remove(r.cfg.Path))
	r.mem, r.data = nil, nil
	if err != nil {
		return fmt.Errorf("ringbuf: close %s: %w", r.cfg.Path, err)
	}
	return nil
}
