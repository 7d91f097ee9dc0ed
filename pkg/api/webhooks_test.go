package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"lightnvr/pkg/notify"
)

// hookReceiver is a real HTTP server that answers every request with status
// and keeps the bodies and signatures it got.
type hookReceiver struct {
	*httptest.Server
	mu         sync.Mutex
	bodies     [][]byte
	signatures []string
	status     int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{status: http.StatusOK}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.bodies = append(rc.bodies, b)
		rc.signatures = append(rc.signatures, r.Header.Get("X-LightNVR-Signature"))
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// The settings page saves the webhook settings through POST /api/settings
// (refused with a message per field when wrong) and its Test button posts a
// signed test event to the saved URL at once, without a restart; the result
// shows in the status.
func TestWebhookSettingsAndTestRoute(t *testing.T) {
	const secret = "0123456789abcdef-webhooks"
	rc := newHookReceiver(t)
	e := newSettingsEnvWith(t, func(d *Deps) { d.Webhooks = notify.NewWebhooks(notify.WebhookOptionsFrom(d.Config.Webhooks)) })

	code, body := call(e.srv, "admin", "POST", "/api/notify/webhooks/test", "")
	if code != 400 || !strings.Contains(string(body), "no webhook URL is set") {
		t.Fatalf("test without a URL: %d %s", code, body)
	}
	code, body = call(e.srv, "admin", "POST", "/api/settings",
		`{"webhooks_enabled":true,"webhooks_detection_url":"ftp://nas/x","webhooks_secret":"short"}`)
	fields, _ := decodeObj(t, body)["fields"].(map[string]any)
	if code != 400 || !strings.Contains(jsonText(fields["webhooks_detection_url"]), "is not an http(s) URL") ||
		!strings.Contains(jsonText(fields["webhooks_secret"]), "at least 16 characters") {
		t.Fatalf("bad webhook settings: %d %s", code, body)
	}
	code, body = call(e.srv, "admin", "POST", "/api/settings",
		`{"webhooks_enabled":true,"webhooks_detection_url":`+jsonStr(rc.URL)+`,"webhooks_secret":`+jsonStr(secret)+`}`)
	if code != 200 {
		t.Fatalf("save webhook settings: %d %s", code, body)
	}
	if got := e.get(t, "admin")["webhooks_secret"]; got != secretMask {
		t.Fatalf("GET shows the secret as %v", got)
	}

	code, body = call(e.srv, "admin", "POST", "/api/notify/webhooks/test", "")
	var reply struct {
		Success bool            `json:"success"`
		Results []notify.Result `json:"results"`
	}
	if err := json.Unmarshal(body, &reply); err != nil || code != 200 {
		t.Fatalf("test: %d %s", code, body)
	}
	if !reply.Success || len(reply.Results) != 1 || reply.Results[0].Status != 200 || reply.Results[0].URL != rc.URL {
		t.Fatalf("test reply %s", body)
	}
	rc.mu.Lock()
	got, sig := rc.bodies, rc.signatures
	rc.mu.Unlock()
	if len(got) != 1 || !strings.Contains(string(got[0]), `"type":"test"`) {
		t.Fatalf("receiver got %q", got)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(got[0])
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); sig[0] != want {
		t.Fatalf("signature %q, want %q", sig[0], want)
	}

	rc.mu.Lock()
	rc.status = http.StatusInternalServerError
	rc.mu.Unlock()
	_, body = call(e.srv, "admin", "POST", "/api/notify/webhooks/test", "")
	if !strings.Contains(string(body), `"success":false`) || !strings.Contains(string(body), "receiver answered 500") {
		t.Fatalf("test against a failing receiver: %s", body)
	}
	code, body = call(e.srv, "admin", "GET", "/api/notify/webhooks/status", "")
	var st notify.Status
	if err := json.Unmarshal(body, &st); err != nil || code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	if rs := st.Results[rc.URL]; len(rs) != 2 || rs[0].OK || !rs[1].OK {
		t.Fatalf("status results %+v; want the failure, then the success", rs)
	}
}

func jsonText(v any) string { s, _ := v.(string); return s }
