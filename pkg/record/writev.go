package record

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// iovMax is Linux's IOV_MAX: the most buffers one writev takes.
const iovMax = 1024

// writeAll writes bufs to f in order with writev, so a part's payloads go
// to the kernel from the units' own memory instead of through a copy. bufs
// is consumed: its entries are advanced past what was written.
func writeAll(f *os.File, bufs [][]byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return nil
		}
		var n int
		var werr error
		// Control holds the file open for the call: a concurrent Close waits.
		if err := rc.Control(func(fd uintptr) {
			n, werr = unix.Writev(int(fd), bufs[:min(len(bufs), iovMax)])
		}); err != nil {
			return err
		}
		if werr == unix.EINTR {
			continue
		}
		if werr != nil {
			return werr
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		for n > 0 {
			k := min(n, len(bufs[0]))
			bufs[0] = bufs[0][k:]
			n -= k
			if len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
	}
}
