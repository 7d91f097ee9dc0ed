package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"lightnvr/pkg/notify"
	"lightnvr/pkg/testkit"
)

// The settings page saves the webhook settings through POST /api/settings
// (refused with a message per field when wrong) and its Test button posts a
// signed test event to the saved URL at once, without a restart; the result
// shows in the status.
func TestWebhookSettingsAndTestRoute(t *testing.T) {
	const secret = "0123456789abcdef-webhooks"
	var status atomic.Int32 // the receiver's answer
	status.Store(http.StatusOK)
	rc := testkit.StartHookReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) })
	e := newSettingsEnvWith(t, func(d *Deps) { d.Webhooks = notify.NewWebhooks(notify.WebhookOptionsFrom(d.Config.Webhooks)) })

	code, body := call(e.srv, "admin", "POST", "/api/notify/webhooks/test", "")
	if code != 400 || !strings.Contains(string(body), "no webhook URL is set") {
		t.Fatalf("test without a URL: %d %s", code, body)
	}
	code, body = call(e.srv, "admin", "POST", "/api/settings",
		`{"webhooks_enabled":true,"webhooks_detection_url":"ftp://nas/x","webhooks_secret":"short"}`)
	fields, _ := decodeObj(t, body)["fields"].(map[string]any)
	if code != 400 || !strings.Contains(stringOf(fields["webhooks_detection_url"]), "is not an http(s) URL") ||
		!strings.Contains(stringOf(fields["webhooks_secret"]), "at least 16 characters") {
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
	got := rc.Requests()
	if len(got) != 1 || !strings.Contains(string(got[0].Body), `"type":"test"`) {
		t.Fatalf("receiver got %+v", got)
	}
	if ok, want := got[0].SignedWith(secret); !ok {
		t.Fatalf("signature %q, want %q", got[0].Header.Get("X-LightNVR-Signature"), want)
	}

	status.Store(http.StatusInternalServerError)
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

func stringOf(v any) string { s, _ := v.(string); return s }
