package media_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/conn"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// blastLoop is one loop of a sample as RTSP/TCP interleaved frames, with
// where each RTP header sits so later loops can carry on its clock.
type blastLoop struct {
	wire     []byte
	headers  []int // offsets of the RTP headers in wire
	packets  uint16
	duration uint32 // 90 kHz
	sdp      []byte
}

func newBlastLoop(b *testing.B, smp *loadgen.Sample) *blastLoop {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: smp.SPS, PPS: smp.PPS}
	enc, err := f.CreateEncoder()
	if err != nil {
		b.Fatal(err)
	}
	l := &blastLoop{duration: uint32(smp.Duration)}
	for _, v := range smp.Video {
		pkts, err := enc.Encode(v.AU)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(v.PTS)
			raw, err := p.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			l.wire = append(l.wire, base.InterleavedFrameMagicByte, 0, byte(len(raw)>>8), byte(len(raw)))
			l.headers = append(l.headers, len(l.wire))
			l.wire = append(l.wire, raw...)
			l.packets++
		}
	}
	desc := description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo,
		Control: "trackID=0", Formats: []format.Format{f}}}}
	if l.sdp, err = desc.Marshal(); err != nil {
		b.Fatal(err)
	}
	return l
}

// next moves every packet of the loop one loop later in RTP time and
// sequence numbers.
func (l *blastLoop) next() {
	for _, h := range l.headers {
		seq := binary.BigEndian.Uint16(l.wire[h+2:])
		binary.BigEndian.PutUint16(l.wire[h+2:], seq+l.packets)
		ts := binary.BigEndian.Uint32(l.wire[h+4:])
		binary.BigEndian.PutUint32(l.wire[h+4:], ts+l.duration)
	}
}

// serveBlast answers one client's RTSP handshake, then writes the loop
// over and over as fast as the client reads it: TCP flow control paces
// the sender, so the benchmark measures the reader.
func serveBlast(ln net.Listener, l *blastLoop) {
	nc, err := ln.Accept()
	if err != nil {
		return
	}
	defer nc.Close()
	c := conn.NewConn(bufio.NewReader(nc), nc)
	for {
		req, err := c.ReadRequest()
		if err != nil {
			return
		}
		res := &base.Response{StatusCode: base.StatusOK, Header: base.Header{
			"CSeq": req.Header["CSeq"], "Session": base.HeaderValue{"1"}}}
		switch req.Method {
		case base.Describe:
			res.Header["Content-Type"] = base.HeaderValue{"application/sdp"}
			res.Header["Content-Base"] = base.HeaderValue{req.URL.String() + "/"}
			res.Body = l.sdp
		case base.Setup:
			res.Header["Transport"] = base.HeaderValue{"RTP/AVP/TCP;unicast;interleaved=0-1"}
		case base.Options:
			res.Header["Public"] = base.HeaderValue{"DESCRIBE, SETUP, PLAY, TEARDOWN"}
		}
		if err := c.WriteResponse(res); err != nil {
			return
		}
		if req.Method == base.Play {
			break
		}
	}
	go func() { // receiver reports and keepalives: read and ignore
		var buf [4096]byte
		for {
			if _, err := nc.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	for {
		for w := l.wire; len(w) > 0; {
			n := min(len(w), 256<<10)
			if _, err := nc.Write(w[:n]); err != nil {
				return
			}
			w = w[n:]
		}
		l.next()
	}
}

func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkIngest measures one 1080p 4 Mbit/s H.264 stream from the socket
// through RTP reassembly to a unit in a hub subscriber, per video access
// unit; the subscriber gives every frame back to the pool. The loopback
// sender never waits, so this is the cost of the reader, not of the
// stream's real-time pace; user and system CPU per unit include the
// (cheap) sender.
func BenchmarkIngest(b *testing.B) {
	smp, err := loadgen.LoadSample(testkit.Sample(b, testkit.SampleSpec{Size: "1920x1080", FPS: 25, GOP: 50,
		Bitrate: "4M", Seconds: 10}))
	if err != nil {
		b.Fatal(err)
	}
	l := newBlastLoop(b, smp)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go serveBlast(ln, l)

	hub := media.NewHub()
	sub := hub.Subscribe("bench", 1024)
	ctx, cancel := context.WithCancel(context.Background())
	src := media.NewSource(media.SourceConfig{Name: "bench", URL: "rtsp://" + ln.Addr().String() + "/cam", Hub: hub})
	done := make(chan struct{})
	go func() { _ = src.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-sub.C() // the session is up and anchored
	b.SetBytes(int64(len(l.wire)) / int64(len(smp.Video)))
	b.ReportAllocs()
	b.ResetTimer()
	u0, s0 := cpuTime()
	for range b.N {
		u, ok := <-sub.C()
		if !ok {
			b.Fatal("hub closed")
		}
		u.Release() // as the recorder does once the unit is on disk
	}
	b.StopTimer()
	u1, s1 := cpuTime()
	b.ReportMetric(float64(u1-u0)/float64(b.N), "user-ns/AU")
	b.ReportMetric(float64(s1-s0)/float64(b.N), "sys-ns/AU")
	if d := sub.Dropped(); d > 0 {
		b.ReportMetric(float64(d)/float64(b.N), "dropped/AU")
	}
}
