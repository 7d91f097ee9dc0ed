package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/onvif/onviftest"
	"lightnvr/pkg/testkit"
)

// answerProbes stands in for the WS-Discovery responder go2rtc lacks and
// returns the address it answers on.
func answerProbes(t *testing.T, xaddr string) string {
	return onviftest.AnswerProbes(t, "urn:uuid:6f1c2a9e-0d4b-4c1e-9a57-3b8f2e6d7c10", xaddr,
		"onvif://www.onvif.org/name/go2rtc", "onvif://www.onvif.org/hardware/testbox")
}

func (e *streamEnv) onvifProfiles(t *testing.T, device, user, pass string) (int, []byte) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/api/onvif/device/profiles")
	ctx.Request.Header.Set("X-Test-Role", "admin")
	ctx.Request.Header.Set("X-Device-URL", device)
	ctx.Request.Header.Set("X-Username", user)
	ctx.Request.Header.Set("X-Password", pass)
	e.srv.Handle(&ctx)
	return ctx.Response.StatusCode(), append([]byte(nil), ctx.Response.Body()...)
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// go2rtc serves its streams as ONVIF profiles: a device no one here wrote.
// Discovery finds it (through a real ProbeMatch), its profiles are listed,
// a stream added from one records, and the credentials stay out of the URL.
func TestONVIFDiscoverAddRecord(t *testing.T) {
	e := newStreamEnv(t, true)
	device := fmt.Sprintf("http://127.0.0.1:%d/onvif/device_service", e.cam.APIPort)
	ip := answerProbes(t, device)

	code, body := e.do(t, "admin", "POST", "/api/onvif/discovery/discover", `{"network":"`+ip+`/32"}`)
	var disc struct{ Devices []onvifDevice }
	decodeInto(t, body, &disc)
	if code != 200 || len(disc.Devices) != 1 {
		t.Fatalf("discover: %d %s", code, body)
	}
	d := disc.Devices[0]
	if d.DeviceService != device || d.Model != "go2rtc" || !strings.HasSuffix(d.MediaService, "/onvif/media_service") ||
		d.HardwareID != "testbox" || d.Name != "go2rtc" || !d.Online || d.IPAddress != "127.0.0.1" {
		t.Fatalf("discovered %+v", d)
	}
	if code, body := e.do(t, "admin", "GET", "/api/onvif/devices", ""); code != 200 || !strings.Contains(string(body), device) {
		t.Fatalf("devices: %d %s", code, body)
	}

	code, body = e.onvifProfiles(t, device, "admin", "s3cret")
	var prof struct{ Profiles []onvifProfile }
	decodeInto(t, body, &prof)
	if code != 200 || len(prof.Profiles) != 1 || prof.Profiles[0].Token != "pattern" || prof.Profiles[0].StreamURI != e.cam.URL() ||
		prof.Profiles[0].Encoding != "H264" {
		t.Fatalf("profiles: %d %s", code, body)
	}
	if code, body := e.do(t, "admin", "POST", "/api/onvif/device/test", `{"url":"`+device+`","username":"admin","password":"s3cret"}`); code != 200 || !strings.Contains(string(body), `"success":true`) {
		t.Fatalf("test: %d %s", code, body)
	}

	add := `{"device_url":"` + device + `","profile_token":"%s","stream_name":"%s","username":"admin","password":"s3cret"}`
	if code, body := e.do(t, "admin", "POST", "/api/onvif/device/add", fmt.Sprintf(add, "nope", "other")); code != 404 {
		t.Fatalf("add with an unknown profile: %d %s", code, body)
	}
	if code, body := e.do(t, "admin", "POST", "/api/onvif/device/add", fmt.Sprintf(add, "pattern", "porch")); code != 200 || !strings.Contains(string(body), `"stream_name":"porch"`) {
		t.Fatalf("add: %d %s", code, body)
	}
	row, err := db.StreamByName(context.Background(), e.db, "porch")
	if err != nil {
		t.Fatal(err)
	}
	if row.URL != e.cam.URL() || !row.IsONVIF || row.ONVIFUsername != "admin" || row.ONVIFPassword != "s3cret" ||
		row.ONVIFProfile != "pattern" || row.ONVIFPort != e.cam.APIPort || !row.Record {
		t.Fatalf("stream row %+v", row)
	}
	if _, body := e.do(t, "viewer", "GET", "/api/streams/porch", ""); strings.Contains(string(body), "s3cret") {
		t.Fatalf("a viewer sees the password: %s", body)
	}

	var rec *db.Recording
	testkit.WaitFor(t, 30*time.Second, "a recording of the ONVIF stream", func() bool {
		recs, err := db.StreamRecordings(context.Background(), e.db, "porch")
		if err != nil || len(recs) == 0 {
			return false
		}
		rec = recs[0]
		return true
	})
	testkit.WaitFor(t, 30*time.Second, "media fragments in the recording", func() bool {
		fi, err := os.Stat(rec.FilePath)
		return err == nil && fi.Size() > 16<<10
	})
	if code, body := e.do(t, "admin", "DELETE", "/api/streams/porch", ""); code != 200 {
		t.Fatalf("disable: %d %s", code, body)
	}
	if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
	}
}

func TestONVIFBadRequests(t *testing.T) {
	e := newStreamEnv(t)
	cases := []struct{ method, uri, body string }{
		{"POST", "/api/onvif/discovery/discover", `{"network":"lan"}`},
		{"POST", "/api/onvif/discovery/discover", `{"network":"10.0.0.0/8"}`},
		{"POST", "/api/onvif/device/test", `{"url":"ftp://cam/x"}`},
		{"POST", "/api/onvif/device/add", `{"device_url":"http://127.0.0.1:1/onvif/device_service","profile_token":"p","stream_name":".x"}`},
		{"POST", "/api/onvif/device/add", `{"device_url":"http://127.0.0.1:1/onvif/device_service","stream_name":"x"}`},
	}
	for _, c := range cases {
		if code, body := e.do(t, "admin", c.method, c.uri, c.body); code != 400 {
			t.Errorf("%s %s %s: %d %s", c.method, c.uri, c.body, code, body)
		}
	}
	if code, body := e.onvifProfiles(t, "", "", ""); code != 400 {
		t.Errorf("profiles without a device: %d %s", code, body)
	}
	// A device that is not there: the test says so, profiles fail.
	gone := fmt.Sprintf("http://127.0.0.1:%d/onvif/device_service", testkit.FreePort(t))
	if code, body := e.do(t, "admin", "POST", "/api/onvif/device/test", `{"url":"`+gone+`"}`); code != 200 || !strings.Contains(string(body), `"success":false`) {
		t.Errorf("test of a missing device: %d %s", code, body)
	}
	if code, body := e.onvifProfiles(t, gone, "", ""); code != 500 {
		t.Errorf("profiles of a missing device: %d %s", code, body)
	}
	if code, body := e.do(t, "viewer", "GET", "/api/onvif/discovery/status", ""); code != 200 || !strings.Contains(string(body), `"network":"auto"`) {
		t.Errorf("status: %d %s", code, body)
	}
}

// With [onvif] discovery_enabled the daemon scans discovery_network by
// itself: the device shows up in the list without anyone asking for a scan.
func TestONVIFBackgroundDiscovery(t *testing.T) {
	const device = "http://127.0.0.1:1/onvif/device_service" // answers probes, not SOAP: listed all the same
	ip := answerProbes(t, device)
	d := testkit.OpenDB(t, "")
	_, mgr := startStreamStack(t, d)
	cfg := config.Default()
	cfg.ONVIF.DiscoveryEnabled = true
	cfg.ONVIF.DiscoveryNetwork = ip + "/32"
	srv, err := New(Deps{Config: cfg, DB: d, Logger: quietLog, Auth: streamTestAuth{}, Streams: mgr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	testkit.WaitFor(t, 20*time.Second, "the background scan to list the device", func() bool {
		code, body := call(srv, "admin", "GET", "/api/onvif/devices", "")
		return code == 200 && strings.Contains(string(body), device) && strings.Contains(string(body), `"online":true`)
	})
}

// A device that hands out a go2rtc exec: source as its stream URI does not
// get a stream: the URI meets the same allowlist as one a user types.
func TestONVIFAddRefusesHostileStreamURI(t *testing.T) {
	const env = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>%s</s:Body></s:Envelope>`
	now := time.Now().UTC()
	var srvURL string
	dev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var answer string
		switch body := string(b); {
		case strings.Contains(body, "GetSystemDateAndTime"):
			answer = fmt.Sprintf(`<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time><tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
				now.Hour(), now.Minute(), now.Second(), now.Year(), now.Month(), now.Day())
		case strings.Contains(body, "GetServices"):
			answer = `<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>` + srvURL + `/onvif/media_service</tds:XAddr></tds:Service></tds:GetServicesResponse>`
		case strings.Contains(body, "GetProfiles"):
			answer = `<trt:GetProfilesResponse><trt:Profiles token="main"><tt:Name>main</tt:Name></trt:Profiles></trt:GetProfilesResponse>`
		case strings.Contains(body, "GetStreamUri"):
			answer = `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>exec:touch /tmp/owned</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse>`
		}
		fmt.Fprintf(w, env, answer)
	}))
	defer dev.Close()
	srvURL = dev.URL
	e := newStreamEnv(t)
	body := `{"device_url":"` + dev.URL + `/onvif/device_service","profile_token":"main","stream_name":"evil","username":"a","password":"b"}`
	if code, resp := e.do(t, "admin", "POST", "/api/onvif/device/add", body); code != 500 || !strings.Contains(string(resp), "stream URI from the device") {
		t.Fatalf("add: %d %s", code, resp)
	}
	if _, err := db.StreamByName(context.Background(), e.db, "evil"); err == nil {
		t.Fatal("a stream was created from an exec: URI")
	}
}
