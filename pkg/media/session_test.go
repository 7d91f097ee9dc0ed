package media_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// A server that drops a playing client after 3 s without a request (it
// states 1 s as its session timeout) keeps the session: the source sends
// its keepalives within the stated timeout.
func TestSessionKeepsAliveWithinTheServersTimeout(t *testing.T) {
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4},
		loadgen.Config{Streams: 1, IdleTimeout: 3 * time.Second})
	// 8 s of video: well past the server's 3 s.
	src, c := runSource(t, lg.URL(0), 40*time.Second, func(units []*media.Unit) bool { return videoUnits(units) >= 200 })
	if n := videoUnits(c.units); n < 200 {
		t.Fatalf("%d video units in 40 s, want 200", n)
	}
	if st := src.Stats(); st.Reconnects != 0 {
		t.Fatalf("the server dropped the session %d times: %+v", st.Reconnects, st)
	}
}

// A server that wants credentials (go2rtc does for callers that are not
// on loopback, and cameras do): the source answers its challenge with the
// URL's user and password, and a wrong password is an error that says so.
func TestSessionAuthenticates(t *testing.T) {
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4},
		loadgen.Config{Streams: 1, User: "nvr", Pass: "s3cret"})
	url := func(pass string) string {
		return strings.Replace(lg.URL(0), "rtsp://", "rtsp://nvr:"+pass+"@", 1)
	}

	_, c := runSource(t, url("s3cret"), 30*time.Second, twoSeconds)
	if n := videoUnits(c.units); n < 50 {
		t.Fatalf("%d video units with the right password, want 50", n)
	}
	checkUnits(t, c.units, false)

	var mu sync.Mutex
	var lastErr error
	failed := make(chan struct{}, 1)
	src := media.NewSource(media.SourceConfig{Name: "cam", URL: url("wrong"), Hub: media.NewHub(),
		Backoff: backoff.Backoff{Min: time.Second},
		OnState: func(st media.SourceState, err error) {
			if st != media.SourceReconnecting {
				return
			}
			mu.Lock()
			lastErr = err
			mu.Unlock()
			select {
			case failed <- struct{}{}:
			default:
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = src.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-failed:
	case <-time.After(15 * time.Second):
		t.Fatal("a wrong password did not end the session in 15 s")
	}
	mu.Lock()
	defer mu.Unlock()
	if lastErr == nil || !strings.Contains(lastErr.Error(), "401") {
		t.Fatalf("wrong password: error %v, want one naming the 401", lastErr)
	}
	if st := src.Stats(); st.Frames != 0 {
		t.Fatalf("%d frames published with a wrong password", st.Frames)
	}
}
