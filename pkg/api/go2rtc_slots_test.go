package api

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/go2rtc"
)

// TestGo2RTCProxyErrorAnswersReleaseSlots is the attack of one viewer on live
// view for everyone: stream.mp4 requests that go2rtc answers with an error
// (here a camera that refuses) used to keep their proxy slot, so a handful of
// them left every user with 503 until lightnvr restarted.
func TestGo2RTCProxyErrorAnswersReleaseSlots(t *testing.T) {
	const inflight = 4
	base := "http://" + startProxyServer(t, startGo2RTC(t), inflight)
	for i := range 3 * inflight {
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/stream.mp4?src=secret", "viewer")
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			t.Fatalf("error request %d: %d %s: an earlier failed stream.mp4 kept its slot", i+1, resp.StatusCode, body)
		}
		if resp.StatusCode < 400 {
			t.Fatalf("error request %d: status %d, want go2rtc's error for a refusing camera", i+1, resp.StatusCode)
		}
	}
	for _, user := range []string{"viewer", "admin"} {
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/streams", user)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s after the failed requests: %d %s, want 200", user, resp.StatusCode, body)
		}
	}
}

// TestGo2RTCProxyPerUserCap: one user at their share of the slots gets a clear
// 429, and another user still gets through.
func TestGo2RTCProxyPerUserCap(t *testing.T) {
	const inflight = 4 // one slot per user
	base := "http://" + startProxyServer(t, startGo2RTC(t), inflight)
	held := holdStream(t, base, "viewer")
	defer held.Body.Close()

	resp, body := proxyGet(t, "GET", base+"/go2rtc/api/streams", "viewer")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("viewer over their share: %d %s, want 429", resp.StatusCode, body)
	}
	var e struct{ Error string }
	if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "one user") {
		t.Fatalf("429 without a clear reason: %s", body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	resp, body = proxyGet(t, "GET", base+"/go2rtc/api/streams", "admin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another user while viewer is at their cap: %d %s, want 200", resp.StatusCode, body)
	}
}

// TestGo2RTCProxyShortRequestsWaitForTheirShare: a page asks for one card
// snapshot per camera at once. A short request over the user's share waits for
// a slot to free instead of failing with 429, and is answered.
func TestGo2RTCProxyShortRequestsWaitForTheirShare(t *testing.T) {
	const inflight = 4 // one slot per user
	base := "http://" + startProxyServer(t, startGo2RTC(t), inflight)
	held := holdStream(t, base, "viewer")
	type answer struct {
		status int
		body   []byte
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/go2rtc/api/streams", nil)
		req.Header.Set("X-Test-User", "viewer")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, body, err}
	}()
	// The stream ends while the short request waits; it then takes the slot.
	time.Sleep(300 * time.Millisecond)
	held.Body.Close()
	a := <-got
	if a.err != nil {
		t.Fatalf("short request: %v", a.err)
	}
	if a.status != http.StatusOK {
		t.Fatalf("short request waiting for the viewer's slot: %d %s, want 200", a.status, a.body)
	}
}

// TestGo2RTCProxySharesSnapshots: LightNVR's streams page asks for every
// card's picture at once, and again while it re-renders. Identical snapshot
// requests share one go2rtc call, so none is refused and go2rtc makes one
// picture for all of them.
func TestGo2RTCProxySharesSnapshots(t *testing.T) {
	g2r := startGo2RTC(t)
	var upstream atomic.Int32
	target, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(g2r))
	relay := httputil.NewSingleHostReverseProxy(target)
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/frame.jpeg") {
			upstream.Add(1)
		}
		relay.ServeHTTP(w, r)
	}))
	t.Cleanup(counter.Close)
	base := "http://" + startProxyServer(t, counter.Listener.Addr().(*net.TCPAddr).Port, 4) // one slot per user

	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", base+"/go2rtc/api/frame.jpeg?src=test", nil)
			req.Header.Set("X-Test-User", "viewer")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("snapshot request answered %d, want 200", c)
		}
	}
	if got := upstream.Load(); got > 2 {
		t.Errorf("%d identical snapshot requests made %d go2rtc calls, want them to share one", n, got)
	}
}

// holdStream opens stream.mp4 as user and reads its first box, so the
// request holds one of the user's proxy slots until its body is closed.
func holdStream(t *testing.T, base, user string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/go2rtc/api/stream.mp4?src=test", nil)
	req.Header.Set("X-Test-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, head); err != nil || string(head[4:8]) != "ftyp" {
		resp.Body.Close()
		t.Fatalf("stream.mp4 head % x err %v", head, err)
	}
	return resp
}

// TestGo2RTCProxyHLS: LightNVR's own UI plays go2rtc's HLS through /go2rtc/:
// the stream playlist, the session playlist it names and the segments that
// one names all pass, with a login.
func TestGo2RTCProxyHLS(t *testing.T) {
	base := "http://" + startProxyServer(t, startGo2RTC(t), 16) + "/go2rtc/api/"
	if resp, _ := proxyGet(t, "GET", base+"stream.m3u8?src=test", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous HLS: %d, want 401", resp.StatusCode)
	}
	// Each playlist names the next request relative to itself.
	next := func(playlist []byte, suffix string) string {
		for _, line := range strings.Split(string(playlist), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") && strings.Contains(line, suffix) {
				return line
			}
		}
		return ""
	}
	resp, master := proxyGet(t, "GET", base+"stream.m3u8?src=test", "viewer")
	if resp.StatusCode != http.StatusOK || next(master, "playlist.m3u8") == "" {
		t.Fatalf("stream.m3u8: %d %q", resp.StatusCode, master)
	}
	var media []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, media = proxyGet(t, "GET", base+next(master, "playlist.m3u8"), "viewer")
		if resp.StatusCode == http.StatusOK && next(media, "segment") != "" {
			break
		}
	}
	seg := next(media, "segment")
	if seg == "" {
		t.Fatalf("session playlist names no segment: %q", media)
	}
	resp, body := proxyGet(t, "GET", base+"hls/"+strings.TrimPrefix(seg, "hls/"), "viewer")
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("segment %s: %d, %d bytes", seg, resp.StatusCode, len(body))
	}
}

// Every endpoint the proxy passes must be on go2rtc's allow_paths list, or
// go2rtc answers 404 for it as if it did not exist.
func TestGo2RTCProxyEndpointsAreAllowed(t *testing.T) {
	for name := range go2rtcEndpoints {
		if !slices.Contains(go2rtc.APIPaths, name) {
			t.Errorf("proxy passes %s, which go2rtc's allow_paths (go2rtc.APIPaths) leave out", name)
		}
	}
}
