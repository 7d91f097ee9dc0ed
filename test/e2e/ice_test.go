package e2e

import (
	"os"
	"reflect"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// TestPlayerUsesICEServers: the player's WebRTC session is set up with the
// ICE servers lightnvr is configured with (a TURN relay here).
func TestPlayerUsesICEServers(t *testing.T) {
	b := testkit.StartChromium(t, 1280, 800)
	d := testkit.NewDaemon(t, adminPassword)
	f, err := os.OpenFile(d.INI, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// [go2rtc] is the file's last section.
	_, err = f.WriteString("turn_enabled = true\nturn_server_url = turn:127.0.0.1:3478\nturn_username = relay\nturn_password = relay-secret\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	u := newUI(t, d.Base, b)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")
	js := `(async () => {
		const Orig = window.RTCPeerConnection;
		let seen = null;
		window.RTCPeerConnection = function (cfg) { seen = cfg; return new Orig(cfg); };
		const { LivePlayer } = await import('/js/player.js');
		const v = document.createElement('video');
		const p = new LivePlayer(v, 'none', { mode: 'webrtc', webrtcTimeoutMs: 2000, onState: () => {} });
		p.start();
		const t0 = Date.now();
		while (!seen && Date.now() - t0 < 10000) await new Promise(r => setTimeout(r, 100));
		p.stop();
		window.RTCPeerConnection = Orig;
		return seen ? seen.iceServers : 'no RTCPeerConnection';
	})()`
	got, err := testkit.Eval[any](u.p, 20*time.Second, js)
	want := []any{map[string]any{"urls": []any{"turn:127.0.0.1:3478"}, "username": "relay", "credential": "relay-secret"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("the player's ICE servers: %#v (%v), want %#v", got, err, want)
	}
}
