package api

import (
	"encoding/json"
	"reflect"
	"testing"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
)

// TestICEServers: the browser gets the ICE servers go2rtc is configured with,
// the TURN relay's credentials included, and none while WebRTC is off.
func TestICEServers(t *testing.T) {
	e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) {
		c.Go2RTC.STUNEnabled, c.Go2RTC.STUNServer = true, "stun.example.org:3478"
		c.Go2RTC.TURNEnabled, c.Go2RTC.TURNServerURL = true, "turn:turn.example.org:3478"
		c.Go2RTC.TURNUsername, c.Go2RTC.TURNPassword = "relay", "relay-secret"
	}})
	viewer := e.signIn(e.addUser("viewer", "viewer-password-1", auth.RoleViewer), "viewer-password-1")
	get := func() (int, []map[string]any) {
		r := viewer
		r.method, r.path = "GET", "/api/ice-servers"
		resp := e.do(r)
		var body struct {
			ICEServers []map[string]any `json:"ice_servers"`
		}
		if err := json.Unmarshal(resp.body, &body); err != nil || body.ICEServers == nil {
			t.Fatalf("ice-servers: %d %s", resp.status, resp.body)
		}
		return resp.status, body.ICEServers
	}
	status, list := get()
	want := []map[string]any{
		{"urls": []any{"stun:stun.example.org:3478"}},
		{"urls": []any{"turn:turn.example.org:3478"}, "username": "relay", "credential": "relay-secret"},
	}
	if status != 200 || !reflect.DeepEqual(list, want) {
		t.Fatalf("ice-servers: %d %v, want %v", status, list, want)
	}

	e.cfg.Go2RTC.ICEServers = "stun:a.example.org:1, turn:b.example.org:2"
	e.cfg.Go2RTC.TURNEnabled = false
	if _, list := get(); len(list) != 2 || list[1]["urls"].([]any)[0] != "turn:b.example.org:2" || list[1]["username"] != nil {
		t.Fatalf("ice_servers list: %v", list)
	}
	e.cfg.Go2RTC.WebRTCEnabled = false
	if _, list := get(); len(list) != 0 {
		t.Fatalf("with WebRTC off: %v", list)
	}
	r := viewer
	r.method, r.path = "POST", "/api/ice-servers"
	r.body, r.contentType = "{}", "application/json"
	if resp := e.do(r); resp.status != 405 {
		t.Fatalf("POST ice-servers: %d %s", resp.status, resp.body)
	}
}
