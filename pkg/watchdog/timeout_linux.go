package watchdog

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// setTimeout asks the driver for timeout and returns the one it chose
// (drivers round to what the hardware can count); a file that is no
// watchdog (ENOTTY) keeps timeout.
func setTimeout(f *os.File, timeout time.Duration) (time.Duration, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	secs := int(timeout / time.Second)
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.WDIOC_SETTIMEOUT, secs); ioErr != nil {
			return
		}
		if got, gerr := unix.IoctlGetInt(int(fd), unix.WDIOC_GETTIMEOUT); gerr == nil && got > 0 {
			secs = got
		}
	})
	if err == nil && !errors.Is(ioErr, unix.ENOTTY) {
		err = ioErr
	}
	return time.Duration(secs) * time.Second, err
}
