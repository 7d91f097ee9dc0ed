package go2rtc_test

import (
	"strings"
	"testing"

	"lightnvr/pkg/go2rtc"
)

func TestCheckOverride(t *testing.T) {
	valid := []string{
		"",
		"# nothing\n",
		"streams:\n  garage: exec:ffmpeg -re -i 'a b' -c copy -f rtsp {output}\n  cam:\n    - rtsp://u:p@192.0.2.1:554/x#transport=tcp\n    - \"ffmpeg:cam#video=h264\"\nffmpeg:\n  h264: \"-codec:v libx264 -g:v 30\"   # comment\n",
		"webrtc:\n  ice_servers:\n    - urls: [stun:stun.example.org:3478]\n      username: u\n    - urls: [\"turn:t\"]\n      credential: c\nlog:\n  level: debug\n",
		"hass:\n  config: |\n    a: 1\n    a: 1\napi:\n  origin: '*'\n",
	}
	for _, v := range valid {
		if c := go2rtc.CheckOverride(v); !c.Valid {
			t.Errorf("CheckOverride(%q) = %+v, want valid", v, c.Error)
		}
	}
	for _, c := range []struct {
		text           string
		line, col      int
		part           string
		dup, root, bad bool
	}{
		{"- a\n- b\n", 1, 1, "mapping", false, true, false},
		{"just text\n", 1, 1, "mapping", false, true, false},
		{"streams:\n  a: x\n  a: y\n", 3, 3, "twice", true, false, true},
		{"api:\n\tlisten: x\n", 2, 1, "tab", false, false, true},
		{"streams:\n  a: [x, y\n", 2, 6, "not closed", false, false, true},
		{"streams:\n  a: \"x\n", 2, 6, "not closed", false, false, true},
		{"a:\n    b: 1\n  c: 2\n", 3, 3, "indentation", false, false, true},
	} {
		got := go2rtc.CheckOverride(c.text)
		e := got.Error
		if got.Valid || e == nil || e.Line != c.line || e.Column != c.col || !strings.Contains(e.Message, c.part) ||
			(len(e.DuplicateKeys) > 0) != c.dup || e.NonMappingRoot != c.root || e.ParseError != c.bad {
			t.Errorf("CheckOverride(%q) = %+v, want line %d col %d %q", c.text, e, c.line, c.col, c.part)
		}
	}
	w := go2rtc.CheckOverride("api:\n  listen: \":1984\"\nfoo: 1\nstreams:\n  cam: rtsp://x\n").Warnings
	if len(w) != 3 || !strings.HasPrefix(w[0], "api.listen") || !strings.HasPrefix(w[1], "foo") || !strings.HasPrefix(w[2], "streams.cam") {
		t.Errorf("warnings: %q", w)
	}
	if c := go2rtc.CheckOverride(strings.Repeat("#", go2rtc.MaxOverrideBytes+1)); c.Valid {
		t.Error("an oversized override passed")
	}
}

func TestMaskSecrets(t *testing.T) {
	in := "streams:\n  cam: rtsp://admin:Secret1@192.0.2.1/x\nwebrtc:\n  ice_servers:\n    - urls: [turn:t]\n      credential: Secret2\n      username: bob\napi:\n  password: \"Secret3\"\n"
	out := go2rtc.MaskSecrets(in)
	for _, s := range []string{"Secret1", "Secret2", "Secret3"} {
		if strings.Contains(out, s) {
			t.Errorf("%s not masked:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "username: bob") || !strings.Contains(out, "192.0.2.1/x") {
		t.Errorf("masked too much:\n%s", out)
	}
}
