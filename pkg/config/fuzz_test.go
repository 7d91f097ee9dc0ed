package config

import (
	"os"
	"testing"

	"gopkg.in/ini.v1"
)

// FuzzParse feeds arbitrary INI text (and an arbitrary string value) to the
// loader. Properties: nothing panics; every key ini.v1 reads has a line for
// error messages; and when the text is a valid config, saving it with the
// value put into a few string keys and reading it back gives the same
// config.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/appliance.ini", "testdata/all_keys.ini"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "value")
	}
	f.Add(DevINI("/tmp/x"), ` lead and trail `)
	f.Add("[web]\nport = 80 ; c\nusername = \"a ; b\" # c\n", `quote"in ; side # x`)
	f.Add("[mqtt]\npassword = `raw`\nclient_id = \"\"\"x\"\"\"\n", "`tick`")
	f.Add("\xef\xbb\xbf[web]\r\nroot=C:\\www\\\r\n", "'single'")
	f.Add("[web]\nusername =\n[web]\nusername = \"\n\"\n", "")
	f.Add("x=1\n[stream.1]\n- = a\n`k:` = v\n", ";starts")
	f.Add("[go2rtc]\nwebrtc_port = 1\nwebrtc_listen_port=2\n", "#hash")

	f.Fuzz(func(t *testing.T, text, val string) {
		data := []byte(text)
		c, err := Parse("f.ini", data)

		if ly, serr := scan(data); serr == nil {
			if inf, ierr := ini.LoadSources(iniOptions, data); ierr == nil {
				for _, s := range inf.Sections() {
					for _, k := range s.Keys() {
						if k.Name() != "" && k.Name()[0] != '#' && ly.lineOf(s.Name(), k.Name()) == 0 {
							t.Fatalf("[%s] %q read by ini.v1 has no line", s.Name(), k.Name())
						}
					}
				}
			}
		}
		if err != nil {
			return
		}
		pw := c.Web.Password
		c.Web.Username = val
		c.MQTT.Password = val
		c.Go2RTC.ICEServers = val
		if c.Validate() != nil {
			return // e.g. a control character or an empty username with auth on
		}
		out, err := c.render("f.ini", data)
		if err != nil {
			t.Fatalf("render a file that parsed: %v", err)
		}
		back, err := Parse("f.ini", out)
		if err != nil {
			t.Fatalf("saved file does not load: %v\n%q", err, out)
		}
		if back.Web.Password != pw {
			t.Fatalf("web password changed by save: %q → %q", pw, back.Web.Password)
		}
		for _, fd := range fields {
			if a, b := fd.format(back), fd.format(c); a != b {
				t.Fatalf("[%s] %s: saved %q, read back %q\nfile:\n%q", fd.section, fd.key, b, a, out)
			}
		}
	})
}
