package media

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockReader reads a TCP connection without the runtime's system-call
// bookkeeping. An ordinary conn read enters the runtime as a system call
// that may block, and each one after a quiet spell wakes the scheduler's
// monitor thread, which then polls every 20 µs for a while: at one stream
// and 25 frames a second that was about 100 futex and nanosleep calls a
// second, each a context switch, for reads that never block (the socket is
// non-blocking; an empty one answers EAGAIN at once and the goroutine waits
// in the netpoller as before). Deadlines and Close from another goroutine
// work as for conn.Read: both go through the same poll descriptor.
//
// Paced (pace > 0), a read that finds the socket empty waits for more than
// a packet's worth of data, in one of two ways, whichever wakes the process
// less:
//
//   - With other paced streams in the process (more than pollUpTo), it
//     sleeps until the next multiple of pace on the clock and tries again,
//     so every paced stream of the process wakes on the same beat: one
//     wake a beat for all of them.
//   - Alone, it waits in the runtime's poller for the socket's receive
//     low-water mark, sized to what the stream sends in pollSpan (adaptMark;
//     1 until the first span is measured), so the kernel wakes it once that
//     much has queued. A beat of a runtime timer costs more wakes than the
//     stream at one stream: the poller sleeps in whole milliseconds and so
//     wakes up to 1 ms early and then again, the scheduler's monitor thread
//     wakes with it, and a 1080p stream passes a 32 KiB mark mid-beat, a
//     wake that reads nothing. Data under the mark waits at most pollBound
//     (a read deadline that passes once each pollBound), for a stream whose
//     rate fell.
//
// Beat-paced, the low-water mark is what keeps the poller quiet: the socket
// stays in the poller, which would wake a thread for every frame that
// arrived (edge-triggered, whether a goroutine waited or not). Until the
// mark has queued, the kernel does not call the socket readable. Either
// way a read that finds less than the mark still returns what there is,
// and an error or the peer's end of the connection is readable at once.
//
// While paced, the reader owns the connection's read deadline.
type sockReader struct {
	rc   syscall.RawConn
	conn net.Conn
	pace time.Duration // 0: wait for data in the netpoller

	counted  bool          // in pacedReaders
	polling  bool          // this read waits in the poller (see above)
	mark     int           // the socket's low-water mark as set
	deadline time.Time     // the read deadline set for the poller's wait; zero: none
	passed   bool          // deadline has passed: the conn refuses reads until it is set again
	bound    time.Duration // pollBound; a test shortens it
	since    time.Time     // start of the span the stream's rate is measured over
	got      int           // bytes read in it

	buf   []byte
	n     int
	err   error
	empty bool                  // the callback found the socket empty and left the wait to Read
	fn    func(fd uintptr) bool // built once: a closure per Read would allocate
}

// newSockReader returns a reader of c, or c itself where it is not a TCP
// connection (a test's pipe).
func newSockReader(c net.Conn) io.Reader {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &sockReader{rc: rc, conn: c, bound: pollBound}
	r.fn = r.read
	return r
}

// pacedLowWater is the receive low-water mark of a beat-paced socket: the
// poller is woken once this much has queued, not per frame; reads that
// find less still return what there is. It is kept small on purpose: Linux
// (4.18 on) grows the receive buffer to fit a larger mark and clamps the
// window to it, changing how much the kernel holds per stream (with a
// 256 KiB mark, an emulated board recording 8 streams had 10 MB less
// memory available); under the default buffer (tcp_rmem's 128 KiB) it
// changes neither.
const pacedLowWater = 32 << 10

// pollSpan is how much of its stream a polling socket's mark holds, and
// pollLowWater the highest mark: a wake per 300 ms of a 1080p stream
// rather than per 32 KiB (about 65 ms at 4 Mbit/s) took a fifth of one
// stream's CPU off. Units reach the recorder and the motion analyser that
// much later; their timestamps do not change. Only one socket of the
// process polls (pollUpTo), so the kernel memory a larger mark may take
// (up to twice the mark, see pacedLowWater) is taken once. A mark the
// window cannot reach does not hold the sender back: the kernel calls the
// socket readable once its window is nearly closed (Linux 5.10 on, and
// the stable kernels that took the fix), and the board's 4.4 sizes a
// loopback connection's buffer from its 64 KiB segments, to about 1 MB,
// far above the mark.
const (
	pollSpan     = 300 * time.Millisecond
	pollLowWater = 128 << 10
)

// pollUpTo is how many paced streams the process may have for a paced
// read to wait in the poller rather than for the shared beat. Measured
// with 1080p25 streams at 4 Mbit/s, the daemon recording them: in the
// poller one stream took 15 % less CPU than on the beat, but two and
// three took 4–6 % more, as the streams' wakes no longer fall together.
const pollUpTo = 1

// pollBound is how long data under the mark may wait in the socket: a
// few beats, well inside the stall watch's ReadTimeout. Each pass of the
// deadline is a runtime timer the process wakes for: at one stream a 1 s
// bound cost 8 context switches a second more than a 5 s one.
const pollBound = 2 * time.Second

// pacedReaders counts the paced readers of the process.
var pacedReaders atomic.Int32

// markSpan is how often a polling reader sizes its mark to the stream's rate.
const markSpan = time.Second

// setPace sets the beat (0: wait for data in the poller) and the socket's
// low-water mark with it. The mark is an optimisation: a socket that does
// not take it is read the same way, only with the extra wakes.
func (r *sockReader) setPace(d time.Duration) {
	switch {
	case d > 0 && !r.counted:
		pacedReaders.Add(1)
		r.counted = true
	case d == 0:
		r.release()
	}
	r.pace = d
	r.polling = false
	r.clearDeadline()
	if d > 0 {
		r.setMark(pacedLowWater)
	} else {
		r.setMark(1) // the default: readable with any data
	}
}

// release takes the reader out of the paced count. The reader's owner
// calls it when it is done with the connection.
func (r *sockReader) release() {
	if r.counted {
		pacedReaders.Add(-1)
		r.counted = false
	}
}

func (r *sockReader) setMark(n int) {
	if n == r.mark {
		return
	}
	r.mark = n
	_ = r.rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
	})
}

func (r *sockReader) clearDeadline() {
	if !r.deadline.IsZero() {
		r.deadline, r.passed = time.Time{}, false
		_ = r.conn.SetReadDeadline(r.deadline)
	}
}

// mode picks how this read waits (see sockReader) and sets the socket up
// for it. A deadline is set when none is pending and then left to pass,
// not moved on with each read: the runtime wakes for a moved timer at its
// old time anyway, so moving it saves no wake.
func (r *sockReader) mode(now time.Time) {
	polling := pacedReaders.Load() <= pollUpTo
	if polling != r.polling {
		r.polling = polling
		r.since, r.got = now, 0
		if polling {
			// Until the rate is measured the mark is 1, as unpaced: a new
			// stream's first keyframe fixes its wall clock (its units' Wall
			// is its arrival time plus media time), so holding it under a
			// mark a still camera takes seconds to fill would date every
			// unit of the session that much late.
			r.setMark(1)
		} else {
			r.clearDeadline()
			r.setMark(pacedLowWater)
		}
	}
	if polling && (r.deadline.IsZero() || r.passed) {
		r.deadline, r.passed = now.Add(r.bound), false
		_ = r.conn.SetReadDeadline(r.deadline)
	}
}

// adaptMark sizes a polling socket's mark to what the stream sent over
// the last span, per pollSpan, so the kernel wakes the reader about once a
// pollSpan at any rate: at 400 kbit/s a 128 KiB mark would hold data for
// over two seconds.
func (r *sockReader) adaptMark(now time.Time, n int) {
	r.got += n
	span := now.Sub(r.since)
	if span < markSpan {
		return
	}
	want := int(int64(r.got) * int64(pollSpan) / int64(span))
	want = max(1, min(want, pollLowWater))
	r.since, r.got = now, 0
	// A change of under a quarter is not worth a system call.
	if d := want - r.mark; d*4 > r.mark || -d*4 > r.mark {
		r.setMark(want)
	}
}

func (r *sockReader) read(fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)))
		switch errno {
		case 0:
			r.n, r.err = int(n), nil
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if r.pace > 0 && !r.polling {
				r.empty = true
				return true
			}
			return false // nothing yet: wait in the netpoller
		default:
			r.n, r.err = 0, errno
			return true
		}
	}
}

func (r *sockReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.buf = p
	var err error
	for {
		r.empty = false
		if r.pace > 0 {
			r.mode(time.Now())
		}
		err = r.rc.Read(r.fn)
		if err != nil && r.polling && !r.deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) {
			// The bound passed: the next try, with the next deadline, reads
			// what there is under the mark, or waits again for nothing. The
			// passed deadline stays on the conn until mode sets the next one
			// or, if the reader now shares the beat, clears it: left there,
			// it would fail the beat's reads.
			r.passed = true
			continue
		}
		if err != nil || !r.empty {
			break
		}
		// An empty socket after a beat waits for the next one, not in the
		// netpoller: a wake for the frame that arrives in between would
		// double the wakes it saves. A Close is seen at the next beat.
		time.Sleep(r.pace - time.Duration(time.Now().UnixNano()%int64(r.pace)))
	}
	r.buf = nil
	if err != nil {
		return 0, err // closed, or the deadline passed
	}
	if r.polling && r.n > 0 {
		r.adaptMark(time.Now(), r.n)
	}
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return r.n, &net.OpError{Op: "read", Net: "tcp", Err: r.err}
	}
	return r.n, r.err
}
