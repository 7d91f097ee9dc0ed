package streams

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"lightnvr/pkg/media"
)

// Real failures of real connections, sorted into LightNVR's error types.
func TestErrorKind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// A server that says nothing: the read deadline passes.
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, timeoutErr := silent.Read(make([]byte, 1))
	// A server that hangs up: end of stream.
	cut, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	for range 2 {
		c := <-accepted
		if c.RemoteAddr().String() == cut.LocalAddr().String() {
			c.Close()
		} else {
			defer c.Close()
		}
	}
	_, eofErr := cut.Read(make([]byte, 1))
	_ = ln.Close()
	_, refusedErr := net.Dial("tcp", addr)

	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("read: %w", timeoutErr), "timeout"},
		{fmt.Errorf("session: %w", eofErr), "io"},
		{fmt.Errorf("connect: %w", refusedErr), "io"},
		{fmt.Errorf("describe: %w", media.ErrSourceUnavailable), "protocol"},
		{errors.New("bad status code: 404 (Not Found)"), "protocol"},
		{errors.New("no media for 10s"), "timeout"},
		{errors.New("unable to decode SPS"), "decode"},
	} {
		if got := errorKind(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
	var n ErrorCounts
	n.add(eofErr)
	n.add(refusedErr)
	n.add(timeoutErr)
	if n != (ErrorCounts{IO: 2, Timeout: 1}) {
		t.Errorf("counts %+v", n)
	}
}
