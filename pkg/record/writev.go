package record

import (
	"io"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovMax is Linux's IOV_MAX: the most buffers one writev takes.
const iovMax = 1024

// writeAll writes bufs to fd in order with writev, so a part's payloads go
// to the kernel from where they are instead of through a copy. bufs
// is consumed (its entries advance past what was written); iov is scratch
// space, returned for reuse and cleared so it holds no payload.
func writeAll(fd int, bufs [][]byte, iov []unix.Iovec) (_ []unix.Iovec, err error) {
	defer func() { clear(iov[:cap(iov)]) }()
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return iov[:0], nil
		}
		iov = iov[:0]
		for _, b := range bufs[:min(len(bufs), iovMax)] {
			if len(b) > 0 {
				v := unix.Iovec{Base: &b[0]}
				v.SetLen(len(b))
				iov = append(iov, v)
			}
		}
		r, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return iov[:0], errno
		}
		n := int(r)
		if n == 0 {
			return iov[:0], io.ErrShortWrite
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
