package go2rtc_test

import (
	"os"
	"strings"

	"lightnvr/pkg/go2rtc"
	"testing"
)

func TestRestreamOf(t *testing.T) {
	s := go2rtc.Settings{RTSPPort: 8554, Credentials: go2rtc.Credentials{Username: "lightnvr", Password: "pw"}}
	host, _ := os.Hostname()
	// Restreams of go2rtc's stream "front"; the query is the part after '?'.
	accepted := []string{"rtsp://localhost:8554/front", "rtsp://LOCALHOST.:8554/front/",
		"rtsp://admin:p%40ss@127.0.0.1:8554/front?video&audio=aac", "rtsp://127.3.2.1:8554/front#transport=tcp",
		"rtsp://[::1]:8554/front", "rtsp://0.0.0.0:8554/front"}
	if host != "" {
		accepted = append(accepted, "rtsp://"+host+":8554/front")
	}
	for _, u := range accepted {
		_, query, _ := strings.Cut(u, "?")
		if r, ok := s.RestreamOf(u); !ok || r.Name != "front" || r.Query != query {
			t.Errorf("RestreamOf(%q) = %+v %v, want front %q", u, r, ok, query)
		}
	}
	for _, u := range []string{"rtsp://localhost:8555/front", "rtsp://localhost/front", "rtsp://192.0.2.7:8554/front",
		"rtsps://localhost:8554/front", "http://localhost:8554/front", "rtsp://localhost:8554/",
		"ffmpeg:rtsp://localhost:8554/front#video=h264"} {
		if r, ok := s.RestreamOf(u); ok {
			t.Errorf("RestreamOf(%q) = %+v, want no restream", u, r)
		}
	}
	if got := s.Source(go2rtc.Restream{Name: "front", Query: "video"}); got != "rtsp://lightnvr:pw@127.0.0.1:8554/front?video" {
		t.Errorf("Source = %q", got)
	}
	if _, ok := (go2rtc.Settings{RTSPPort: 554}).RestreamOf("rtsp://localhost/front"); !ok {
		t.Error("a URL without a port is on 554")
	}
}
