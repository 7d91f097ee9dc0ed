package media

import (
	"errors"
	"io"
	"net"
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
// Paced (pace > 0), a read that finds the socket empty sleeps until the
// next multiple of pace on the clock and tries again, so a stream wakes its
// reader once a beat instead of once a frame, and every paced stream of the
// process wakes on the same beat.
//
// Paced, the socket's receive low-water mark is raised too (setPace): the
// socket stays in the runtime's poller, which then woke its thread for
// every frame that arrived (edge-triggered, whether a goroutine waited or
// not), a wake that found nothing to do: at one stream more wakes than the
// beats themselves. Until the mark has queued, the kernel does not call
// the socket readable; the paced reads do not ask it. An error, or the
// peer's end of the connection, still is.
type sockReader struct {
	rc   syscall.RawConn
	pace time.Duration // 0: wait for data in the netpoller

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
	r := &sockReader{rc: rc}
	r.fn = r.read
	return r
}

// pacedLowWater is the receive low-water mark of a paced socket: the
// poller is woken once this much has queued, not per frame; reads that
// find less still return what there is. At 1080p and 4 Mbit/s that is one
// wake a beat, and none at sub-stream rates. It is kept small on purpose:
// Linux (4.18 on) grows the receive buffer to fit a larger mark and clamps
// the window to it, changing how much the kernel holds per stream; under
// the default buffer (tcp_rmem's 128 KiB) it changes neither.
const pacedLowWater = 32 << 10

// setPace sets the beat (0: wait for data in the poller) and the socket's
// low-water mark with it. The mark is an optimisation: a socket that does
// not take it is read the same way, only with the extra wakes.
func (r *sockReader) setPace(d time.Duration) {
	r.pace = d
	lowat := 1 // the default: readable with any data
	if d > 0 {
		lowat = pacedLowWater
	}
	_ = r.rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, lowat)
	})
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
			if r.pace > 0 {
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
		if err = r.rc.Read(r.fn); err != nil || !r.empty {
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
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return r.n, &net.OpError{Op: "read", Net: "tcp", Err: r.err}
	}
	return r.n, r.err
}
