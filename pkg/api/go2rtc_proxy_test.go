package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

// headerAuth authenticates by a test header, standing in for pkg/auth's session
// check: the proxy only cares that the dispatcher ran its access check.
type headerAuth struct{}

func (headerAuth) Authenticate(ctx *fasthttp.RequestCtx) (*auth.Principal, error) {
	switch string(ctx.Request.Header.Peek("X-Test-User")) {
	case "viewer":
		return &auth.Principal{UserID: 2, Username: "viewer", Role: auth.RoleViewer}, nil
	case "admin":
		return &auth.Principal{UserID: 1, Username: "admin", Role: auth.RoleAdmin}, nil
	case "viewer2":
		return &auth.Principal{UserID: 3, Username: "viewer2", Role: auth.RoleViewer}, nil
	}
	return nil, nil
}

// testGo2RTCCreds lock the test go2rtc as lightnvr locks its own: every proxied
// request must carry them.
var testGo2RTCCreds = go2rtc.Credentials{Username: go2rtc.CredentialsUser, Password: "proxy-test-secret"}

// startGo2RTC runs the real go2rtc on loopback with a test-pattern stream "test"
// and a stream "secret" whose source URL carries credentials. Its API requires
// testGo2RTCCreds, from loopback too.
func startGo2RTC(t *testing.T) (apiPort int) {
	t.Helper()
	set := go2rtc.Settings{ConfigDir: t.TempDir()}
	cred, err := go2rtc.WriteCredentials(set, testGo2RTCCreds)
	if err != nil {
		t.Fatal(err)
	}
	g := testkit.StartGo2RTCOn(t, testkit.FreePort(t), testkit.FreePort(t),
		"streams:\n  test: \""+testkit.TestPatternSource("320x240", 10)+"\"\n  secret: \"rtsp://camuser:hunter2@127.0.0.1:1/none\"\n", cred)
	return g.APIPort
}

func startProxyServer(t *testing.T, go2rtcPort, inflight int) string {
	t.Helper()
	cfg := config.Default()
	cfg.Go2RTC.Enabled = true
	cfg.Go2RTC.APIPort = go2rtcPort
	cfg.Go2RTC.ProxyMaxInflight = inflight
	cfg.Storage.Path = t.TempDir()
	s, err := New(Deps{Config: cfg, Auth: headerAuth{}, Go2RTCCredentials: func() go2rtc.Credentials { return testGo2RTCCreds }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func proxyGet(t *testing.T, method, url, user string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestGo2RTCProxy(t *testing.T) {
	addr := startProxyServer(t, startGo2RTC(t), 2)
	base := "http://" + addr

	t.Run("needs login", func(t *testing.T) {
		resp, _ := proxyGet(t, "GET", base+"/go2rtc/api/streams", "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous GET: status %d, want 401", resp.StatusCode)
		}
	})

	t.Run("stream list without camera passwords", func(t *testing.T) {
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/streams", "viewer")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var streams map[string]any
		if err := json.Unmarshal(body, &streams); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if _, ok := streams["test"]; !ok {
			t.Fatalf("stream list lacks 'test': %s", body)
		}
		if bytes.Contains(body, []byte("hunter2")) {
			t.Fatalf("credentials leaked: %s", body)
		}
		if !bytes.Contains(body, []byte("camuser:***@127.0.0.1:1")) {
			t.Fatalf("redacted source URL missing: %s", body)
		}
	})

	t.Run("management endpoints refused", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/go2rtc/api/config", http.StatusForbidden},
			{"POST", "/go2rtc/api/config", http.StatusForbidden},
			{"POST", "/go2rtc/api/restart", http.StatusForbidden},
			{"POST", "/go2rtc/api/exit", http.StatusForbidden},
			{"GET", "/go2rtc/api/exec?src=x", http.StatusForbidden},
			{"POST", "/go2rtc/api/streams?src=x&name=y", http.StatusMethodNotAllowed},
			{"PUT", "/go2rtc/api/streams?src=x&name=y", http.StatusMethodNotAllowed},
			{"DELETE", "/go2rtc/api/streams?src=test", http.StatusMethodNotAllowed},
			{"GET", "/go2rtc/api/frame.jpeg?src=exec:touch%20/tmp/x", http.StatusBadRequest},
			{"GET", "/go2rtc/api/frame.jpeg?src=rtsp://1.2.3.4/", http.StatusBadRequest},
			{"GET", "/go2rtc/api/stream.mp4?src=test&name=other", http.StatusBadRequest},
			{"POST", "/go2rtc/api/webrtc?dst=test", http.StatusBadRequest},
			{"GET", "/go2rtc/api/frame.jpeg", http.StatusBadRequest},
			{"GET", "/go2rtc/index.html", http.StatusNotFound},
		} {
			resp, body := proxyGet(t, c.method, base+c.path, "admin")
			if resp.StatusCode != c.want {
				t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, resp.StatusCode, c.want, body)
			}
		}
		// Nothing above may have created a stream in go2rtc.
		_, body := proxyGet(t, "GET", base+"/go2rtc/api/streams", "admin")
		var streams map[string]any
		if err := json.Unmarshal(body, &streams); err != nil {
			t.Fatal(err)
		}
		if len(streams) != 2 {
			t.Fatalf("go2rtc streams changed: %s", body)
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/frame.jpeg?src=test&t=1", "viewer")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("content type %q", ct)
		}
		if len(body) < 100 || body[0] != 0xFF || body[1] != 0xD8 {
			t.Fatalf("not a JPEG: %d bytes % x", len(body), body[:min(len(body), 8)])
		}
	})

	t.Run("webrtc offer reaches go2rtc", func(t *testing.T) {
		req, _ := http.NewRequest("POST", base+"/go2rtc/api/webrtc?src=test", strings.NewReader("v=0\r\nnot an sdp\r\n"))
		req.Header.Set("X-Test-User", "viewer")
		req.Header.Set("Content-Type", "application/sdp")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// go2rtc itself rejects the broken offer; the proxy must have let it through.
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("mse over websocket", func(t *testing.T) {
		hdr := http.Header{"X-Test-User": {"viewer"}}
		if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/go2rtc/api/ws?src=test", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous websocket: err %v resp %v, want 401", err, resp)
		}
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/go2rtc/api/ws?src=test", hdr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if err := c.WriteJSON(map[string]string{"type": "mse", "value": "avc1.640029,avc1.64002A,avc1.640033,mp4a.40.2"}); err != nil {
			t.Fatal(err)
		}
		typ, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read codec answer: %v", err)
		}
		var answer struct{ Type, Value string }
		if typ != websocket.TextMessage || json.Unmarshal(msg, &answer) != nil || answer.Type != "mse" || !strings.HasPrefix(answer.Value, "video/mp4") {
			t.Fatalf("unexpected first message (%d): %s", typ, msg)
		}
		typ, msg, err = c.ReadMessage()
		if err != nil {
			t.Fatalf("read init segment: %v", err)
		}
		if typ != websocket.BinaryMessage || len(msg) < 8 || string(msg[4:8]) != "ftyp" {
			t.Fatalf("want fMP4 init segment, got type %d % x", typ, msg[:min(len(msg), 16)])
		}
		typ, msg, err = c.ReadMessage()
		if err != nil || typ != websocket.BinaryMessage || string(msg[4:8]) != "moof" {
			t.Fatalf("want a media fragment, got type %d err %v", typ, err)
		}
	})

	t.Run("saturation and release", func(t *testing.T) {
		// Two slots: hold both with live fMP4 downloads (one per user: each user
		// may hold only a share), then a third request is refused.
		var held []*http.Response
		for _, user := range []string{"viewer", "admin"} {
			held = append(held, holdStream(t, base, user))
		}
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/frame.jpeg?src=test", "viewer2")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("third request: status %d (%s), want 503", resp.StatusCode, body)
		}
		for _, r := range held {
			r.Body.Close()
		}
		// Closing the downloads frees their slots once the proxy notices the
		// broken connection on its next write.
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, _ := proxyGet(t, "GET", base+"/go2rtc/api/streams", "viewer")
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("slots not released after the clients left: status %d", resp.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestGo2RTCProxyUpstreamDown(t *testing.T) {
	addr := startProxyServer(t, testkit.FreePort(t), 4)
	resp, body := proxyGet(t, "GET", "http://"+addr+"/go2rtc/api/streams", "viewer")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d (%s), want 502", resp.StatusCode, body)
	}
	c, resp2, err := websocket.DefaultDialer.Dial("ws://"+addr+"/go2rtc/api/ws?src=test", http.Header{"X-Test-User": {"viewer"}})
	if err == nil {
		c.Close()
		t.Fatal("websocket to a dead go2rtc was accepted")
	}
	if resp2 == nil || resp2.StatusCode != http.StatusBadGateway {
		t.Fatalf("websocket to dead go2rtc: %v %v, want 502", resp2, err)
	}
}
