package go2rtc_test

import (
	"os"

	"lightnvr/pkg/go2rtc"
	"testing"
)

func TestRestreamOf(t *testing.T) {
	s := go2rtc.Settings{RTSPPort: 8554, Credentials: go2rtc.Credentials{Username: "lightnvr", Password: "pw"}}
	host, _ := os.Hostname()
	for _, c := range []struct {
		url, name, query string
		ok               bool
	}{
		{"rtsp://localhost:8554/front", "front", "", true},
		{"rtsp://LOCALHOST.:8554/front/", "front", "", true},
		{"rtsp://admin:p%40ss@127.0.0.1:8554/front?video&audio=aac", "front", "video&audio=aac", true},
		{"rtsp://127.3.2.1:8554/back#transport=tcp", "back", "", true},
		{"rtsp://[::1]:8554/front", "front", "", true},
		{"rtsp://0.0.0.0:8554/front", "front", "", true},
		{"rtsp://" + host + ":8554/front", "front", "", host != ""},
		{"rtsp://localhost:8555/front", "", "", false},
		{"rtsp://localhost/front", "", "", false},
		{"rtsp://192.0.2.7:8554/front", "", "", false},
		{"rtsps://localhost:8554/front", "", "", false},
		{"http://localhost:8554/front", "", "", false},
		{"rtsp://localhost:8554/", "", "", false},
		{"ffmpeg:rtsp://localhost:8554/front#video=h264", "", "", false},
	} {
		r, ok := s.RestreamOf(c.url)
		if ok != c.ok || r.Name != c.name || r.Query != c.query {
			t.Errorf("RestreamOf(%q) = %+v %v, want %q %q %v", c.url, r, ok, c.name, c.query, c.ok)
		}
	}
	if got := s.Source(go2rtc.Restream{Name: "front", Query: "video"}); got != "rtsp://lightnvr:pw@127.0.0.1:8554/front?video" {
		t.Errorf("Source = %q", got)
	}
	if _, ok := (go2rtc.Settings{RTSPPort: 554}).RestreamOf("rtsp://localhost/front"); !ok {
		t.Error("a URL without a port is on 554")
	}
}
