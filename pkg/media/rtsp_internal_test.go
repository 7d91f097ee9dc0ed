package media

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestDialBufferedTakesAFrameInOneRead: a frame's worth of bytes that is
// already on the socket must come out of one socket read, however small
// the reads gortsplib makes. A read served from the buffer ignores an
// expired deadline; a read that reaches the socket does not.
func TestDialBufferedTakesAFrameInOneRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const frame = 32 << 10
	sent, done := make(chan error, 1), make(chan struct{})
	defer close(done)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = c.Write(make([]byte, frame))
		sent <- err
		<-done
	}()
	c, err := dialBuffered(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // loopback: the whole frame reaches the socket buffer
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	got := 1
	for got < frame {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read %d of %d bytes from the buffer, then the socket: %v", got, frame, err)
		}
		got += n
	}
}
