package logx

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		// Plain URLs, and text that only looks like one.
		"rtsp://user:pass@host:554/s":                         "rtsp://user:***@host:554/s",
		"rtsp://host:554/stream":                              "rtsp://host:554/stream",
		"rtsp://user@host/s":                                  "rtsp://user@host/s",
		"no url here":                                         "no url here",
		"a rtsp://u:p@h/x and http://v:q@i/y end":             "a rtsp://u:***@h/x and http://v:***@i/y end",
		`parse "rtsp://admin:se:cr@t@10.0.0.2/h264": invalid`: `parse "rtsp://admin:***@10.0.0.2/h264": invalid`,
		"rtsp://admin:pa/ss#x@cam/live":                       "rtsp://admin:***@cam/live",
		"rtsp://u:***@h/":                                     "rtsp://u:***@h/",
		"rtsp://":                                             "rtsp://",
		// go2rtc wrappers and nested URLs.
		"ffmpeg:rtsp://admin:hunter2@cam/x#video=h264":           "ffmpeg:rtsp://admin:***@cam/x#video=h264",
		"ffmpeg:rtsp://admin:hun#ter2@cam/x#video=h264":          "ffmpeg:rtsp://admin:***@cam/x#video=h264",
		"http://h/api/stream.mp4?src=rtsp://admin:hunter2@cam/x": "http://h/api/stream.mp4?src=rtsp://admin:***@cam/x",
		"http://u:one1@h/x?src=rtsp://v:two2@cam/x":              "http://u:***@h/x?src=rtsp://v:***@cam/x",
		"http://h/x?src=rtsp://v:tw/o2@cam/x":                    "http://h/x?src=rtsp://v:***@cam/x",
		"rtsp://h:554/x?next=http://v:two2@cam/y":                "rtsp://h:554/x?next=http://v:***@cam/y",
		// Reserved characters in the password.
		"rtsp://admin:p@ss@cam/x":         "rtsp://admin:***@cam/x",
		"rtsp://admin:p/ss@cam/x":         "rtsp://admin:***@cam/x",
		"rtsp://admin:p%ss@cam/x":         "rtsp://admin:***@cam/x",
		"rtsp://admin:p?ss@cam/x":         "rtsp://admin:***@cam/x",
		"rtsp://admin:p:s:s@cam/x":        "rtsp://admin:***@cam/x",
		"rtsp://admin:pässwörd@cam/x":     "rtsp://admin:***@cam/x",
		"rtsp://admin:pa ss@cam/x failed": "rtsp://admin:***@cam/x failed",
		"rtsp://admin:1234/5@cam/x":       "rtsp://admin:***@cam/x",
		"rtsp://cam:554/x\nmail me@home":  "rtsp://cam:554/x\nmail me@home",
		"rtsp://cam:554/x and user@home":  "rtsp://cam:***@home", // over-masks, never under
		"stream rtsp://cam/x (user@home)": "stream rtsp://cam/x (user@home)",
		"rtsp://user@cam/x":               "rtsp://user@cam/x",
		// Query-string and key=value credentials.
		"http://cam/snap.cgi?user=admin&password=hunter2":  "http://cam/snap.cgi?user=admin&password=***",
		"http://cam/snap.cgi?pwd=hunter2&chn=1":            "http://cam/snap.cgi?pwd=***&chn=1",
		"http://cam/x?usr=a&pass=hun#ter2":                 "http://cam/x?usr=a&pass=***",
		"http://cam/x?PASSWD=h&Token=t&api_key=k&apikey=z": "http://cam/x?PASSWD=***&Token=***&api_key=***&apikey=***",
		"http://cam/x?secret=s":                            "http://cam/x?secret=***",
		"onvif_password=hunter2 mqtt-token=abc":            "onvif_password=*** mqtt-token=***",
		"compass=north bypass=1 passage=2":                 "compass=north bypass=1 passage=2",
		"password=":                                        "password=",
		"password=*** again":                               "password=*** again",
		"ffmpeg:http://cam/x?pwd=hunter2#video=h264":       "ffmpeg:http://cam/x?pwd=***",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// redactShapes embed a password in the source and log shapes it is found in.
var redactShapes = []struct {
	name string
	make func(pw string) string
	// ok reports whether the password can be found at all in this shape.
	ok func(pw string) bool
}{
	{"rtsp", func(pw string) string { return "rtsp://admin:" + pw + "@cam.example:554/live" }, urlPassword},
	{"ffmpeg wrapper", func(pw string) string { return "ffmpeg:rtsp://admin:" + pw + "@cam/x#video=h264#audio=aac" }, urlPassword},
	{"nested in query", func(pw string) string {
		return "http://127.0.0.1:1984/api/stream.mp4?src=rtsp://u:" + pw + "@cam/x&mp4"
	}, urlPassword},
	{"log line", func(pw string) string { return `dial "rtsp://u:` + pw + `@10.0.0.2/h264": connection refused` }, urlPassword},
	{"query password", func(pw string) string { return "http://cam/snap.cgi?user=admin&password=" + pw }, paramPassword},
	{"query pwd in ffmpeg", func(pw string) string { return "ffmpeg:http://cam/x?pwd=" + pw + "#video=h264" }, paramPassword},
}

// A URL password is findable unless it holds a line break or the start of
// another URL.
func urlPassword(pw string) bool {
	return !strings.ContainsAny(pw, "\r\n") && !strings.Contains(pw, "://")
}

// A query value ends at '&', whitespace or a quote; what follows is not the
// value any more, for the camera either.
func paramPassword(pw string) bool { return !strings.ContainsAny(pw, "& \t\r\n\"'<>`") }

// FuzzRedactURL: whatever the password, once it is embedded in a source the
// redacted text no longer holds it.
func FuzzRedactURL(f *testing.F) {
	for _, pw := range []string{"hunter2", "p@ss#w/rd%", "a:b@c/d?e#f", "pässwörd", "12345", "***x", "a b", "x=y&z", "Pwd7Pw@more", "x&pwd=abc@h", "***@"} {
		f.Add(pw)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 4 {
			return
		}
		for _, sh := range redactShapes {
			if !sh.ok(pw) {
				continue
			}
			src := sh.make(pw)
			if strings.Contains(strings.Replace(src, pw, "", 1), pw) {
				continue // the password is also part of the surrounding text
			}
			if strings.Contains(sh.make(Masked), pw) {
				continue // the mask and the text around it spell the password ("***@")
			}
			got := RedactURL(src)
			if strings.Contains(got, pw) {
				t.Fatalf("%s: RedactURL(%q) = %q still holds the password", sh.name, src, got)
			}
			// No piece of it either: every 4-byte window of the password
			// that the surrounding text and the mask cannot explain.
			around := sh.make("")
			for i := 0; i+4 <= len(pw); i++ {
				w := pw[i : i+4]
				if !strings.Contains(around, w) && !strings.Contains(w, "*") && strings.Contains(got, w) {
					t.Fatalf("%s: RedactURL(%q) = %q shows %q of the password", sh.name, src, got, w)
				}
			}
		}
	})
}
