package onvif

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The example of the ONVIF Application Programmer's Guide (§6.1.1.3).
func TestPasswordDigestKnownVector(t *testing.T) {
	nonce, _ := base64.StdEncoding.DecodeString("LKqI6G/AikKCQrN0zqZFlg==")
	got := PasswordDigest(nonce, "2010-09-16T07:50:45Z", "userpassword")
	if want := "tuOSpGlFlIXsozq4HFNeeGeFLEI="; got != want {
		t.Fatalf("digest %q, want %q", got, want)
	}
}

// requestToken is how a device reads the UsernameToken of a request.
type requestToken struct {
	Header struct {
		Security struct {
			UsernameToken struct {
				Username string `xml:"Username"`
				Password string `xml:"Password"`
				Nonce    string `xml:"Nonce"`
				Created  string `xml:"Created"`
			} `xml:"UsernameToken"`
		} `xml:"Security"`
	} `xml:"Header"`
}

// A device whose clock runs two hours ahead: after SyncClock the digest's
// Created is in the device's time, and the digest verifies with the
// device's copy of the password.
func TestSyncClockShiftsCreated(t *testing.T) {
	devTime := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Second)
	var seen requestToken
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "GetSystemDateAndTime") {
			if strings.Contains(string(body), "UsernameToken") {
				t.Errorf("GetSystemDateAndTime sent credentials")
			}
			w.Write([]byte(`<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>` +
				itoa(devTime.Hour()) + `</tt:Hour><tt:Minute>` + itoa(devTime.Minute()) + `</tt:Minute><tt:Second>` + itoa(devTime.Second()) +
				`</tt:Second></tt:Time><tt:Date><tt:Year>` + itoa(devTime.Year()) + `</tt:Year><tt:Month>` + itoa(int(devTime.Month())) + `</tt:Month><tt:Day>` + itoa(devTime.Day()) +
				`</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>`))
			return
		}
		if err := xml.Unmarshal(body, &seen); err != nil {
			t.Errorf("device cannot parse request: %v", err)
		}
		w.Write([]byte(`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>`))
	}))
	defer srv.Close()

	c := NewClient("admin", "secret")
	if _, err := c.SyncClock(context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(context.Background(), srv.URL, getSystemHostname{NS: NSDevice}, nil); err != nil {
		t.Fatal(err)
	}
	tok := seen.Header.Security.UsernameToken
	created, err := time.Parse(time.RFC3339, tok.Created)
	if err != nil {
		t.Fatalf("created %q: %v", tok.Created, err)
	}
	if d := created.Sub(devTime); d < -time.Minute || d > time.Minute {
		t.Fatalf("created %v is not in device time %v", created, devTime)
	}
	nonce, _ := base64.StdEncoding.DecodeString(tok.Nonce)
	if tok.Username != "admin" || tok.Password != PasswordDigest(nonce, tok.Created, "secret") {
		t.Fatalf("token does not verify: %+v", tok)
	}
}

type getSystemHostname struct {
	XMLName xml.Name `xml:"tds:GetHostname"`
	NS      string   `xml:"xmlns:tds,attr"`
}

func itoa(n int) string { return strconv.Itoa(n) }
