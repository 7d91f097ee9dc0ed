package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"lightnvr/pkg/config"
	"lightnvr/pkg/testkit"
	webdist "lightnvr/web-dist"
)

// The gate holds the port from the first moment of start-up: the UI's page
// answers at once, while health and the API say 503 "starting" until the
// Server is handed over; from then on the Server answers.
func TestGateStartingThenOpen(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	g := NewGate(cfg, nil, webdist.FS, quietLog)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	if code, body, _ := get("/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("starting: GET / = %d %.80q, want the UI's page", code, body)
	}
	code, body, h := get("/api/health")
	var health struct {
		Healthy bool   `json:"healthy"`
		Status  string `json:"status"`
	}
	if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &health) != nil ||
		health.Healthy || health.Status != "starting" || h.Get("Retry-After") == "" {
		t.Fatalf("starting: GET /api/health = %d %s (Retry-After %q), want 503 starting", code, body, h.Get("Retry-After"))
	}
	if code, body, _ := get("/api/streams"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Fatalf("starting: GET /api/streams = %d %s, want 503 starting", code, body)
	}

	srv, err := New(Deps{Config: cfg, DB: testkit.OpenDB(t, ""), Logger: quietLog, Web: webdist.FS})
	if err != nil {
		t.Fatal(err)
	}
	g.Open(srv)
	code, body, _ = get("/api/health")
	if code != http.StatusOK || json.Unmarshal([]byte(body), &health) != nil || !health.Healthy {
		t.Fatalf("open: GET /api/health = %d %s, want 200 healthy", code, body)
	}
	if code, body, _ := get("/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("open: GET / = %d, want the UI's page", code)
	}
}
