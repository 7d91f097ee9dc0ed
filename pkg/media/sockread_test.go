package media

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// TestSockReader: the raw reader behaves as conn.Read does for what the
// session relies on: data, a read deadline, Close from another goroutine,
// and the peer's end.
func TestSockReader(t *testing.T) {
	t.Run("reads what was sent, waiting for it", func(t *testing.T) {
		c, s := tcpPair(t)
		r := newSockReader(c)
		if _, ok := r.(*sockReader); !ok {
			t.Fatalf("a TCP conn got %T, want the raw reader", r)
		}
		go func() {
			time.Sleep(50 * time.Millisecond) // the first read waits in the netpoller
			_, _ = s.Write([]byte("hello, "))
			_, _ = s.Write([]byte("world"))
		}()
		got, err := io.ReadAll(io.LimitReader(r, 12))
		if err != nil || string(got) != "hello, world" {
			t.Fatalf("read %q, %v; want %q", got, err, "hello, world")
		}
	})
	t.Run("a deadline ends the wait as a timeout", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := newSockReader(c)
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := r.Read(make([]byte, 10))
		var ne net.Error
		if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read with a passed deadline: %d, %v; want a timeout", n, err)
		}
	})
	t.Run("close from another goroutine ends the wait", func(t *testing.T) {
		c, _ := tcpPair(t)
		readEndsOnClose(t, newSockReader(c), c, 50*time.Millisecond)
	})
	t.Run("the peer's close is EOF", func(t *testing.T) {
		c, s := tcpPair(t)
		r := newSockReader(c)
		_, _ = s.Write([]byte("x"))
		_ = s.Close()
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "x" {
			t.Fatalf("read to the end: %q, %v; want \"x\" and EOF", got, err)
		}
	})
	t.Run("a pipe is read as it is", func(t *testing.T) {
		a, b := net.Pipe()
		defer func() { _ = a.Close(); _ = b.Close() }()
		if r := newSockReader(a); r != a {
			t.Fatalf("a pipe got %T, want the conn itself", r)
		}
	})
	t.Run("paced, a stream of small writes is read once a beat", func(t *testing.T) {
		c, s := tcpPair(t)
		const pace, chunks, every = 100 * time.Millisecond, 100, 5 * time.Millisecond // 0.5 s of writes
		r := newSockReader(c).(*sockReader)
		r.setPace(pace) // with the low-water mark far above a write
		go func() {
			for i := range chunks {
				_, _ = s.Write([]byte{byte(i)})
				time.Sleep(every)
			}
		}()
		got := make([]byte, 0, chunks)
		reads := 0
		buf := make([]byte, 1024)
		for len(got) < chunks {
			n, err := r.Read(buf)
			if err != nil {
				t.Fatalf("read %d of %d bytes: %v", len(got), chunks, err)
			}
			got = append(got, buf[:n]...)
			reads++
		}
		for i, b := range got {
			if b != byte(i) {
				t.Fatalf("byte %d is %d: out of order", i, b)
			}
		}
		// A beat gives one read of what came since the last (two if
		// a write lands between the two halves of a beat's reads).
		// Unpaced, every write is a read of its own.
		beats := int((chunks*every)/pace) + 2
		if reads > 2*beats {
			t.Errorf("%d reads for %d writes over %d beats, want at most %d", reads, chunks, beats, 2*beats)
		}
	})
	t.Run("paced, close from another goroutine ends the wait", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := newSockReader(c).(*sockReader)
		r.setPace(100 * time.Millisecond)
		readEndsOnClose(t, r, c, 150*time.Millisecond) // mid-beat
	})
	t.Run("paced, the low-water mark is raised; unpaced it is back to 1", func(t *testing.T) {
		c, s := tcpPair(t)
		r := newSockReader(c).(*sockReader)
		lowat := func() int {
			t.Helper()
			var v int
			var err error
			if cerr := r.rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT) }); cerr != nil || err != nil {
				t.Fatalf("SO_RCVLOWAT: %v %v", cerr, err)
			}
			return v
		}
		r.setPace(100 * time.Millisecond)
		if v := lowat(); v != pacedLowWater {
			t.Fatalf("paced: SO_RCVLOWAT %d, want %d", v, pacedLowWater)
		}
		r.setPace(0)
		if v := lowat(); v != 1 {
			t.Fatalf("unpaced: SO_RCVLOWAT %d, want 1", v)
		}
		// Paced again, the peer's end under the mark is still seen.
		r.setPace(100 * time.Millisecond)
		_, _ = s.Write([]byte("x"))
		_ = s.Close()
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "x" {
			t.Fatalf("paced read to the end: %q, %v; want \"x\" and EOF", got, err)
		}
	})
}

// readEndsOnClose closes c after a while and wants r's waiting read to end
// with net.ErrClosed.
func readEndsOnClose(t *testing.T, r io.Reader, c net.Conn, after time.Duration) {
	t.Helper()
	go func() {
		time.Sleep(after)
		_ = c.Close()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v; want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read on a closed conn still waits")
	}
}
