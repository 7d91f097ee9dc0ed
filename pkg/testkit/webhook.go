package testkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// HookRequest is one request a HookReceiver got.
type HookRequest struct {
	Header http.Header
	Body   []byte
}

// SignedWith reports whether r carries "sha256=<hex HMAC-SHA256 of the
// body>" keyed with secret in X-LightNVR-Signature, computed here as a
// receiver would, and returns the signature it expected.
func (r HookRequest) SignedWith(secret string) (bool, string) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(r.Header.Get("X-LightNVR-Signature")), []byte(want)), want
}

// HookReceiver is a real HTTP server standing in for a webhook receiver: it
// keeps every request and answers the n-th (from 1) with its reply function.
type HookReceiver struct {
	*httptest.Server
	// Seen receives a value as each request arrives.
	Seen chan struct{}

	mu  sync.Mutex
	got []HookRequest
}

// StartHookReceiver starts a receiver; a nil reply answers 200 to all. It
// is closed at the test's end.
func StartHookReceiver(t testing.TB, reply func(n int, w http.ResponseWriter, r *http.Request)) *HookReceiver {
	h := &HookReceiver{Seen: make(chan struct{}, 1024)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, HookRequest{Header: r.Header.Clone(), Body: b})
		n := len(h.got)
		h.mu.Unlock()
		select {
		case h.Seen <- struct{}{}:
		default:
		}
		if reply != nil {
			reply(n, w, r)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// Requests are the requests so far, oldest first.
func (h *HookReceiver) Requests() []HookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HookRequest(nil), h.got...)
}
