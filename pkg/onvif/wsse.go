package onvif

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"time"
)

// oasis is the common stem of the WS-Security 1.0 schema and profile URIs.
const oasis = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-"

const (
	nsWSSE             = oasis + "wss-wssecurity-secext-1.0.xsd"
	nsWSU              = oasis + "wss-wssecurity-utility-1.0.xsd"
	passwordDigestType = oasis + "wss-username-token-profile-1.0#PasswordDigest"
	base64EncodingType = oasis + "wss-soap-message-security-1.0#Base64Binary"
)

type security struct {
	XMLName        xml.Name `xml:"wsse:Security"`
	NSWSSE         string   `xml:"xmlns:wsse,attr"`
	NSWSU          string   `xml:"xmlns:wsu,attr"`
	MustUnderstand string   `xml:"s:mustUnderstand,attr"`
	Token          struct {
		Username string `xml:"wsse:Username"`
		Password struct {
			Type  string `xml:"Type,attr"`
			Value string `xml:",chardata"`
		} `xml:"wsse:Password"`
		Nonce struct {
			EncodingType string `xml:"EncodingType,attr"`
			Value        string `xml:",chardata"`
		} `xml:"wsse:Nonce"`
		Created string `xml:"wsu:Created"`
	} `xml:"wsse:UsernameToken"`
}

// PasswordDigest is the UsernameToken digest of the WS-Security profile
// ONVIF mandates: Base64(SHA1(nonce + created + password)), nonce raw bytes.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func newSecurity(user, pass string, now time.Time) *security {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	created := now.UTC().Format("2006-01-02T15:04:05.000Z")
	s := &security{NSWSSE: nsWSSE, NSWSU: nsWSU, MustUnderstand: "1"}
	s.Token.Username = user
	s.Token.Password.Type = passwordDigestType
	s.Token.Password.Value = PasswordDigest(nonce, created, pass)
	s.Token.Nonce.EncodingType = base64EncodingType
	s.Token.Nonce.Value = base64.StdEncoding.EncodeToString(nonce)
	s.Token.Created = created
	return s
}

// deviceNow is the local clock shifted by the offset learned from the
// device, so the digest's Created falls inside the camera's freshness
// window even when the camera clock is wrong (many never see NTP).
func (c *Client) deviceNow() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	return now().Add(c.offset)
}

// ClockOffset returns the device-minus-local clock offset in use.
func (c *Client) ClockOffset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

type getSystemDateAndTime struct {
	XMLName xml.Name `xml:"tds:GetSystemDateAndTime"`
	NS      string   `xml:"xmlns:tds,attr"`
}

type dateTime struct {
	Date struct {
		Year  int `xml:"Year"`
		Month int `xml:"Month"`
		Day   int `xml:"Day"`
	} `xml:"Date"`
	Time struct {
		Hour   int `xml:"Hour"`
		Minute int `xml:"Minute"`
		Second int `xml:"Second"`
	} `xml:"Time"`
}

type getSystemDateAndTimeResponse struct {
	SystemDateAndTime struct {
		UTCDateTime dateTime `xml:"UTCDateTime"`
	} `xml:"SystemDateAndTime"`
}

// SyncClock asks the device for its UTC time (a call ONVIF allows without
// authentication) and stores the offset used for later digests. It returns
// the device's time.
func (c *Client) SyncClock(ctx context.Context, deviceURL string) (time.Time, error) {
	var resp getSystemDateAndTimeResponse
	anon := &Client{HTTP: c.HTTP, now: c.now}
	if err := anon.Call(ctx, deviceURL, getSystemDateAndTime{NS: NSDevice}, &resp); err != nil {
		return time.Time{}, fmt.Errorf("get system date and time: %w", err)
	}
	u := resp.SystemDateAndTime.UTCDateTime
	if u.Date.Year < 1970 || u.Date.Month < 1 || u.Date.Month > 12 || u.Date.Day < 1 || u.Date.Day > 31 {
		return time.Time{}, fmt.Errorf("device reported no valid UTC time")
	}
	dev := time.Date(u.Date.Year, time.Month(u.Date.Month), u.Date.Day, u.Time.Hour, u.Time.Minute, u.Time.Second, 0, time.UTC)
	c.mu.Lock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	c.offset = dev.Sub(now())
	c.mu.Unlock()
	return dev, nil
}
