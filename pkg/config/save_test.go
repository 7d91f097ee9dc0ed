package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameConfig compares the exported sections of two configs.
func sameConfig(t *testing.T, got, want *Config) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range w.NumField() {
		if !w.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s:\n got %+v\nwant %+v", w.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

// saveFile saves c to path (to the file it came from when path is "") and
// returns what that file then holds.
func saveFile(t *testing.T, c *Config, path string) string {
	t.Helper()
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	if path == "" {
		path = c.path
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

func TestSaveRoundTrip(t *testing.T) {
	orig, err := os.ReadFile("testdata/appliance.ini")
	if err != nil {
		t.Fatal(err)
	}
	p := writeINI(t, string(orig))
	c := loadFile(t, p)

	c.General.LogLevel = 3                      // in place, inline comment kept
	c.Web.Port = 8081                           // in place
	c.Web.Root = "/srv/www"                     // empty value filled in
	c.Web.Password = "hunter2"                  // never written
	c.Go2RTC.WebRTCListenPort = 9555            // written under the alias the file uses
	c.Go2RTC.Mode = Go2RTCManaged               // in place, comment kept
	c.MQTT.Password = `new "pw" ; with # signs` // quoted, multi-line-safe
	c.MQTT.QoS = 2                              // missing: appended to [mqtt]
	c.Storage.PressureWarningPct = 20           // same value as "20.0": untouched
	c.ONVIF.DiscoveryEnabled = true             // missing section: appended at the end
	c.ONVIF.DiscoveryInterval = 600
	got := saveFile(t, c, "")
	want := string(orig)
	for _, r := range [][2]string{
		{"log_level = 2        ; 0=error", "log_level = 3        ; 0=error"},
		{"port = 80\n", "port = 8081\n"},
		{"root =\n", "root = /srv/www\n"},
		{"webrtc_port = 8555\n", "webrtc_port = 9555\n"},
		{"mode = external         ; supervised", "mode = managed         ; supervised"},
		{`password = "p@ss ; word"` + "\n", `password = "new \"pw\" ; with # signs"` + "\nqos = 2\n"},
	} {
		if !strings.Contains(want, r[0]) {
			t.Fatalf("testdata lacks %q", r[0])
		}
		want = strings.Replace(want, r[0], r[1], 1)
	}
	want += "\n[onvif]\ndiscovery_enabled = true\ndiscovery_interval = 600\n"
	if got != want {
		t.Fatalf("saved file:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "hunter2") {
		t.Fatal("web password written")
	}

	back := loadFile(t, p)
	c.Web.Password = "" // not saved, so not read back
	sameConfig(t, back, c)
	all := strings.Join(back.Warnings(), "\n")
	if !strings.Contains(all, "board_revision") || !strings.Contains(all, "[vendor]") {
		t.Errorf("unknown key/section lost: %s", all)
	}

	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}

	// Saving again with nothing changed changes nothing.
	if again := saveFile(t, back, ""); again != want {
		t.Fatalf("second save changed the file:\n%s", again)
	}
}

func TestSaveKeepsPasswordLine(t *testing.T) {
	p := writeINI(t, "[web]\nusername = admin\npassword = initial ; seeds the admin\n")
	c := loadFile(t, p)
	c.Web.Username = "root"
	if got := saveFile(t, c, ""); got != "[web]\nusername = root\npassword = initial ; seeds the admin\n" {
		t.Fatalf("got:\n%s", got)
	}
	c.Web.Password = "changed"
	if got := saveFile(t, c, ""); strings.Contains(got, "changed") {
		t.Fatalf("password written:\n%s", got)
	}
}

func TestSaveNewFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new.ini")
	c := Default()
	c.Web.Port = 9000
	c.MQTT.Password = " spaced "
	c.Storage.Path = "/data/rec"
	c.Web.Password = "nope"
	got := saveFile(t, c, p)
	want := "[storage]\npath = /data/rec\n\n[web]\nport = 9000\n\n[mqtt]\npassword = \" spaced \"\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	back := loadFile(t, p)
	c.Web.Password = ""
	sameConfig(t, back, c)
}

func TestSaveLeavesEnvValues(t *testing.T) {
	p := writeINI(t, "[web]\nport = 8080\n")
	c := loadFile(t, p, "LIGHTNVR_WEB_PORT=9090", "LIGHTNVR_MQTT_PASSWORD=fromenv")
	c.MQTT.BrokerHost = "broker"
	if got := saveFile(t, c, ""); got != "[web]\nport = 8080\n\n[mqtt]\nbroker_host = broker\n" {
		t.Fatalf("environment leaked into the file:\n%s", got)
	}
	// A value changed after load (say from the settings page) is saved.
	c.Web.Port = 8181
	if got := saveFile(t, c, ""); !strings.Contains(got, "port = 8181") {
		t.Fatalf("changed value not saved:\n%s", got)
	}
}

func TestSaveEdgeCases(t *testing.T) {
	cases := []struct {
		name, in string
		edit     func(c *Config)
		want     string
	}{
		{"crlf and no final newline", "[web]\r\nport = 80\r\n[mqtt]\r\nenabled = false",
			func(c *Config) { c.Web.Port = 81; c.MQTT.QoS = 0 },
			"[web]\r\nport = 81\r\n[mqtt]\r\nenabled = false\r\nqos = 0\r\n"},
		{"emptied value keeps its comment", "[web]\nroot = /srv ; old\n",
			func(c *Config) { c.Web.Root = "" },
			"[web]\nroot = \"\" ; old\n"},
		{"duplicate section: append to the last", "[web]\nport = 80\n[mqtt]\nqos = 1\n[web]\nusername = a\n; trailing\n",
			func(c *Config) { c.Web.DemoMode = true },
			"[web]\nport = 80\n[mqtt]\nqos = 1\n[web]\nusername = a\ndemo_mode = true\n; trailing\n"},
		{"duplicate key: edit the one that wins", "[web]\nport = 80\nport = 81\n",
			func(c *Config) { c.Web.Port = 82 },
			"[web]\nport = 80\nport = 82\n"},
		{"value with quotes at the ends", "[web]\nusername = a\n",
			func(c *Config) { c.Web.Username = `'x'` },
			"[web]\nusername = \"'x'\"\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeINI(t, tc.in)
			c := loadFile(t, p)
			tc.edit(c)
			if got := saveFile(t, c, ""); got != tc.want {
				t.Fatalf("got:\n%q\nwant:\n%q", got, tc.want)
			}
			sameConfig(t, loadFile(t, p), c)
		})
	}
}

// A multi-line value never loads (it holds a newline), but Save may still
// meet one in a file it edits.
func TestSaveMultiLineValue(t *testing.T) {
	p := writeINI(t, "[mqtt]\npassword = \"\"\"a\nb\"\"\" ; c\nqos = 1\n")
	c := Default()
	c.MQTT.Password = "ab"
	if got := saveFile(t, c, p); got != "[mqtt]\npassword = ab\nqos = 1\n" {
		t.Fatalf("got %q", got)
	}
	if back := loadFile(t, p); back.MQTT.Password != "ab" {
		t.Fatalf("read back %q", back.MQTT.Password)
	}
}

func TestSaveRefuses(t *testing.T) {
	c := Default()
	if err := c.Save(""); err == nil {
		t.Error("save without a path succeeded")
	}
	c.Web.Port = 0
	p := writeINI(t, "[web]\nport = 80\n")
	if err := c.Save(p); err == nil || !strings.Contains(err.Error(), "[web] port") {
		t.Errorf("invalid config saved: %v", err)
	}
	c = Default()
	bad := writeINI(t, "[web\nport = 80\n")
	if err := c.Save(bad); err == nil || !strings.Contains(err.Error(), ":1: unclosed section header") {
		t.Errorf("unreadable file overwritten: %v", err)
	}
}

func TestSaveThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.ini")
	if err := os.WriteFile(real, []byte("[web]\nport = 80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "lightnvr.ini")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	c := loadFile(t, link)
	c.Web.Port = 81
	if err := c.Save(""); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("symlink replaced: %v", err)
	}
	if got, _ := os.ReadFile(real); string(got) != "[web]\nport = 81\n" {
		t.Fatalf("target: %q", got)
	}
}
