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
	t.Run("paced among many, a stream of small writes is read once a beat", func(t *testing.T) {
		crowd(t, pollUpTo)
		c, s := tcpPair(t)
		const pace, chunks, every = 100 * time.Millisecond, 100, 5 * time.Millisecond // 0.5 s of writes
		// The low-water mark is far above a write.
		r := pacedReader(t, c, pace)
		go func() {
			for i := range chunks {
				_, _ = s.Write([]byte{byte(i)})
				time.Sleep(every)
			}
		}()
		got, reads := readAllOf(t, r, chunks)
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
	t.Run("paced among many, close from another goroutine ends the wait", func(t *testing.T) {
		crowd(t, pollUpTo)
		c, _ := tcpPair(t)
		readEndsOnClose(t, pacedReader(t, c, 100*time.Millisecond), c, 150*time.Millisecond) // mid-beat
	})
	t.Run("paced alone, close from another goroutine ends the wait in the poller", func(t *testing.T) {
		c, _ := tcpPair(t)
		readEndsOnClose(t, pacedReader(t, c, 100*time.Millisecond), c, 150*time.Millisecond)
	})
	t.Run("paced alone, the kernel wakes the reader once the mark has queued", func(t *testing.T) {
		c, s := tcpPair(t)
		r := pacedReader(t, c, 100*time.Millisecond)
		r.bound = time.Minute // only the mark can end this wait
		// A new reader's mark is 1; set it to the highest, as for a
		// measured 1080p stream, so the wait below is for the mark.
		_, _ = s.Write([]byte{0})
		readAllOf(t, r, 1)
		r.setMark(pacedLowWater)
		r.since = time.Now()
		done := make(chan error, 1)
		go func() {
			_, err := io.ReadFull(r, make([]byte, pacedLowWater))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // the read waits in the poller
		if _, err := s.Write(make([]byte, pacedLowWater)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("read the mark's worth: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a polling read still waits with its mark queued")
		}
	})
	t.Run("paced alone, a new stream's first data is read at once, not held under a mark", func(t *testing.T) {
		c, s := tcpPair(t)
		r := pacedReader(t, c, 100*time.Millisecond)
		r.bound = time.Minute // the mark alone decides when this read ends
		start := time.Now()
		go func() {
			time.Sleep(50 * time.Millisecond) // the read waits in the poller
			_, _ = s.Write([]byte("first keyframe"))
		}()
		readAllOf(t, r, len("first keyframe"))
		// Held under a 32 KiB mark it would be read at the bound, a minute.
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("a new stream's first 14 bytes were read after %s", d)
		}
		if v := lowat(t, r); v != 1 {
			t.Fatalf("before its rate is measured, SO_RCVLOWAT %d; want 1", v)
		}
	})
	t.Run("paced alone, a bound that passed does not fail the read when the reader moves to the beat", func(t *testing.T) {
		c, s := tcpPair(t)
		r := pacedReader(t, c, 100*time.Millisecond)
		r.bound = 300 * time.Millisecond
		_, _ = s.Write([]byte{0})
		readAllOf(t, r, 1) // in the poller now, with a deadline
		r.setMark(pacedLowWater)
		var more []*sockReader
		for range pollUpTo {
			mc, _ := tcpPair(t)
			m := newSockReader(mc).(*sockReader)
			t.Cleanup(m.release)
			more = append(more, m)
		}
		started := make(chan struct{})
		go func() {
			defer close(started)
			// While the read waits for the mark, more streams start; then
			// the bound passes, and later a byte comes.
			time.Sleep(100 * time.Millisecond)
			for _, m := range more {
				m.setPace(100 * time.Millisecond)
			}
			time.Sleep(400 * time.Millisecond)
			_, _ = s.Write([]byte{1})
		}()
		got, _ := readAllOf(t, r, 1)
		<-started
		if got[0] != 1 {
			t.Fatalf("read %v, want the byte written after the bound", got)
		}
		if r.polling {
			t.Fatal("among many paced readers, the reader still polls")
		}
	})
	t.Run("paced alone, data under the mark is read at the bound, not per write or beat", func(t *testing.T) {
		c, s := tcpPair(t)
		const chunks, every = 100, 5 * time.Millisecond // 0.5 s of writes
		r := pacedReader(t, c, 100*time.Millisecond)
		r.bound = time.Second
		// The first read puts the reader in the poller; then the mark is
		// set as if a faster stream had been measured.
		_, _ = s.Write([]byte{0})
		readAllOf(t, r, 1)
		r.setMark(pacedLowWater)
		r.since = time.Now()
		wrote := make(chan time.Duration, 1)
		go func() {
			start := time.Now()
			for i := range chunks {
				_, _ = s.Write([]byte{byte(i)})
				time.Sleep(every)
			}
			wrote <- time.Since(start)
		}()
		got, reads := readAllOf(t, r, chunks)
		for i, b := range got {
			if b != byte(i) {
				t.Fatalf("byte %d is %d: out of order", i, b)
			}
		}
		// A deadline passes each bound, and with it comes a read. Woken per
		// write it would be 100 reads, per beat one every 100 ms.
		if most := int(<-wrote/r.bound) + 2; reads > most {
			t.Errorf("%d reads for %d writes under the mark, want at most %d", reads, chunks, most)
		}
	})
	t.Run("paced alone, the mark follows the stream's rate; among many it is back", func(t *testing.T) {
		c, s := tcpPair(t)
		r := pacedReader(t, c, 100*time.Millisecond)
		r.bound = 200 * time.Millisecond
		// 1000 bytes every 10 ms: 30 kB a pollSpan.
		readAllOf(t, r, feed(s, 1000, 10*time.Millisecond, 150))
		// The writer's sleeps run long on a loaded machine, so the rate
		// measured is at most the one written.
		if v := lowat(t, r); v < 6000 || v > 36000 {
			t.Fatalf("after 1.5 s at 100 kB/s, SO_RCVLOWAT %d; want about 30000", v)
		}
		crowd(t, pollUpTo)
		_, _ = s.Write([]byte("x"))
		if _, err := r.Read(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if v := lowat(t, r); v != pacedLowWater {
			t.Fatalf("among many, SO_RCVLOWAT %d; want %d", v, pacedLowWater)
		}
	})
	t.Run("paced alone, a fast stream's mark is pollLowWater", func(t *testing.T) {
		c, s := tcpPair(t)
		r := pacedReader(t, c, 100*time.Millisecond)
		r.bound = 200 * time.Millisecond
		// 50 kB every 10 ms, 5 MB/s: a pollSpan of it is over the cap
		// unless the writer's sleeps run ten times long.
		readAllOf(t, r, feed(s, 50000, 10*time.Millisecond, 150))
		if v := lowat(t, r); v != pollLowWater {
			t.Fatalf("after 1.5 s at 5 MB/s, SO_RCVLOWAT %d; want %d", v, pollLowWater)
		}
	})
	t.Run("paced, the low-water mark is raised; unpaced it is back to 1", func(t *testing.T) {
		c, s := tcpPair(t)
		r := pacedReader(t, c, 100*time.Millisecond)
		if v := lowat(t, r); v != pacedLowWater {
			t.Fatalf("paced: SO_RCVLOWAT %d, want %d", v, pacedLowWater)
		}
		before := pacedReaders.Load()
		r.setPace(0)
		if v := lowat(t, r); v != 1 {
			t.Fatalf("unpaced: SO_RCVLOWAT %d, want 1", v)
		}
		if n := pacedReaders.Load(); n != before-1 {
			t.Fatalf("unpaced, %d paced readers counted; want %d", n, before-1)
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

// pacedReader returns c's raw reader, paced at d and counted among the
// process's paced readers until the test ends.
func pacedReader(t *testing.T, c net.Conn, d time.Duration) *sockReader {
	t.Helper()
	r := newSockReader(c).(*sockReader)
	r.setPace(d)
	t.Cleanup(r.release)
	return r
}

// feed writes chunks of chunk bytes to c, one every every, and returns how
// many bytes that is.
func feed(c net.Conn, chunk int, every time.Duration, chunks int) int {
	go func() {
		for range chunks {
			_, _ = c.Write(make([]byte, chunk))
			time.Sleep(every)
		}
	}()
	return chunk * chunks
}

// crowd adds n paced readers to the process until the test ends, so the
// reader under test shares the beat instead of polling.
func crowd(t *testing.T, n int) {
	t.Helper()
	for range n {
		c, _ := tcpPair(t)
		pacedReader(t, c, 100*time.Millisecond)
	}
}

func lowat(t *testing.T, r *sockReader) int {
	t.Helper()
	var v int
	var err error
	if cerr := r.rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT) }); cerr != nil || err != nil {
		t.Fatalf("SO_RCVLOWAT: %v %v", cerr, err)
	}
	return v
}

// readAllOf reads n bytes from r and says in how many reads.
func readAllOf(t *testing.T, r io.Reader, n int) ([]byte, int) {
	t.Helper()
	got := make([]byte, 0, n)
	buf := make([]byte, 64<<10)
	reads := 0
	for len(got) < n {
		k, err := r.Read(buf)
		if err != nil {
			t.Fatalf("read %d of %d bytes: %v", len(got), n, err)
		}
		got = append(got, buf[:k]...)
		reads++
	}
	return got, reads
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
