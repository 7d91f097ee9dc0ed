package testkit

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// ONVIFCamera is an ONVIF device for tests, for the services go2rtc's own
// ONVIF server lacks: device, media (one profile), PTZ, imaging and events
// (PullPoint, or pushed Notify messages with BasicNotification). It speaks SOAP 1.2 over HTTP as cameras do and checks every
// request's WS-Security UsernameToken digest against its own clock, which
// runs Skew ahead of the host's: a wrong password, a replayed nonce or a
// Created too far from the device's time get a ter:NotAuthorized fault.
// Only GetSystemDateAndTime is answered without credentials, as the ONVIF
// core specification requires. Every call received is recorded.
type ONVIFCamera struct {
	Port int
	opt  ONVIFCameraOptions

	mu      sync.Mutex
	srv     *http.Server
	calls   []ONVIFCall
	nonces  map[string]bool
	ptz     ptzState
	imaging imagingSettings
	subs    map[string]*pullSub
	nextSub int
}

// ONVIFCameraOptions set up an ONVIFCamera; zero fields take defaults.
type ONVIFCameraOptions struct {
	User, Password string
	// Skew is how far the device's clock runs ahead of the host's.
	Skew time.Duration
	// MaxTermination caps the lifetime the device grants a subscription
	// (default one minute), so tests can watch renewals.
	MaxTermination time.Duration
	// BasicNotification makes the event service push instead of being
	// pulled, as cameras without a PullPoint do: its capabilities say
	// WSPullPointSupport false, CreatePullPointSubscription is refused with
	// ter:ActionNotSupported, and a WS-BaseNotification Subscribe makes
	// Emit POST a Notify to the subscription's consumer address.
	BasicNotification bool
	// HideEventCapabilities refuses the event service's
	// GetServiceCapabilities too, so a client learns that the PullPoint is
	// missing only from CreatePullPointSubscription's fault.
	HideEventCapabilities bool
}

// ONVIFCall is one SOAP request the camera received.
type ONVIFCall struct {
	Service string // the path's last element: device_service, ptz_service, …
	Action  string // the local name of the body's first element
	Body    string // the body's first element, as sent
}

// Decode unmarshals the call's body element into v.
func (c ONVIFCall) Decode(v any) error { return xml.Unmarshal([]byte(c.Body), v) }

// Namespaces of the ONVIF wire format.
const (
	nsEnv = "http://www.w3.org/2003/05/soap-envelope"
	nsTT  = "http://www.onvif.org/ver10/schema"
	nsTER = "http://www.onvif.org/ver10/error"
)

// authWindow is how far a UsernameToken's Created may be from the device's
// clock.
const authWindow = 5 * time.Second

// StartONVIFCamera starts a device on a free loopback port, stopped when the
// test ends.
func StartONVIFCamera(t testing.TB, opt ONVIFCameraOptions) *ONVIFCamera {
	t.Helper()
	if opt.MaxTermination <= 0 {
		opt.MaxTermination = time.Minute
	}
	c := &ONVIFCamera{Port: FreePort(t), opt: opt, nonces: map[string]bool{}, subs: map[string]*pullSub{},
		ptz: newPTZState(), imaging: defaultImaging()}
	c.listen(t)
	t.Cleanup(c.stop)
	return c
}

// URL is the device service address, the one a user types.
func (c *ONVIFCamera) URL() string { return c.base() + "/onvif/device_service" }

func (c *ONVIFCamera) base() string { return fmt.Sprintf("http://127.0.0.1:%d", c.Port) }

// Calls returns every call received so far, in order.
func (c *ONVIFCamera) Calls() []ONVIFCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ONVIFCall(nil), c.calls...)
}

// CallsOf returns the calls of one action.
func (c *ONVIFCamera) CallsOf(action string) []ONVIFCall {
	var out []ONVIFCall
	for _, call := range c.Calls() {
		if call.Action == action {
			out = append(out, call)
		}
	}
	return out
}

// Reboot takes the device off the network for d: its listener and every
// connection close (connections are refused meanwhile), its subscriptions
// are forgotten, and it comes back on the same port.
func (c *ONVIFCamera) Reboot(t testing.TB, d time.Duration) {
	t.Helper()
	c.stop()
	c.mu.Lock()
	for id, s := range c.subs {
		s.end()
		delete(c.subs, id)
	}
	c.mu.Unlock()
	time.Sleep(d)
	c.listen(t)
}

func (c *ONVIFCamera) listen(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port of a listener just closed may linger a moment.
	for range 50 {
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("onvif camera: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(c.serve), ReadHeaderTimeout: 5 * time.Second}
	c.mu.Lock()
	c.srv = srv
	c.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (c *ONVIFCamera) stop() {
	c.mu.Lock()
	srv := c.srv
	c.srv = nil
	c.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// now is the device's clock.
func (c *ONVIFCamera) now() time.Time { return time.Now().Add(c.opt.Skew).UTC() }

// request is the part of a SOAP envelope the device reads.
type request struct {
	Header struct {
		Token struct {
			Username string `xml:"Username"`
			Password struct {
				Type  string `xml:"Type,attr"`
				Value string `xml:",chardata"`
			} `xml:"Password"`
			Nonce   string `xml:"Nonce"`
			Created string `xml:"Created"`
		} `xml:"Security>UsernameToken"`
	} `xml:"Header"`
	Body struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

// soapFault is a fault to send instead of a response.
type soapFault struct {
	status        int
	code, subcode string
	reason        string
}

func (f *soapFault) Error() string { return f.reason }

func (c *ONVIFCamera) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var req request
	if err := xml.Unmarshal(raw, &req); err != nil {
		writeFault(w, &soapFault{http.StatusBadRequest, "env:Sender", "ter:WellFormed", "not a SOAP envelope: " + err.Error()})
		return
	}
	call, err := firstElement(req.Body.Inner)
	if err != nil {
		writeFault(w, &soapFault{http.StatusBadRequest, "env:Sender", "ter:WellFormed", err.Error()})
		return
	}
	call.Service = r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
	if call.Action != "GetSystemDateAndTime" {
		if err := c.authenticate(&req); err != nil {
			writeFault(w, err)
			return
		}
	}
	body, err := c.answer(r.Context(), r.URL.Path, call)
	if err != nil {
		var f *soapFault
		if !errors.As(err, &f) {
			f = &soapFault{http.StatusInternalServerError, "env:Receiver", "ter:Action", err.Error()}
		}
		writeFault(w, f)
		return
	}
	writeEnvelope(w, http.StatusOK, body)
}

// firstElement returns the body's first element, whole.
func firstElement(inner []byte) (ONVIFCall, error) {
	d := xml.NewDecoder(bytes.NewReader(inner))
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return ONVIFCall{}, fmt.Errorf("empty SOAP body: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if err := d.Skip(); err != nil {
				return ONVIFCall{}, fmt.Errorf("SOAP body: %w", err)
			}
			return ONVIFCall{Action: se.Name.Local, Body: string(inner[start:d.InputOffset()])}, nil
		}
	}
}

// authenticate checks the UsernameToken's password digest,
// Base64(SHA-1(nonce + created + password)), its freshness and its nonce.
func (c *ONVIFCamera) authenticate(req *request) error {
	tok := req.Header.Token
	deny := func(why string) error {
		return &soapFault{http.StatusBadRequest, "env:Sender", "ter:NotAuthorized", "Sender not authorized: " + why}
	}
	if tok.Username == "" {
		return deny("no UsernameToken")
	}
	if !strings.HasSuffix(tok.Password.Type, "#PasswordDigest") {
		return deny("password type " + tok.Password.Type + " is not a digest")
	}
	nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok.Nonce))
	if err != nil || len(nonce) == 0 {
		return deny("bad nonce")
	}
	created, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(tok.Created))
	if err != nil {
		return deny("bad Created")
	}
	if d := created.Sub(c.now()); d > authWindow || d < -authWindow {
		return deny(fmt.Sprintf("Created %s is %s from the device clock", tok.Created, d.Round(time.Second)))
	}
	sum := sha1.Sum([]byte(string(nonce) + strings.TrimSpace(tok.Created) + c.opt.Password))
	if tok.Username != c.opt.User || base64.StdEncoding.EncodeToString(sum[:]) != strings.TrimSpace(tok.Password.Value) {
		return deny("wrong user name or password")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nonces[tok.Nonce] {
		return deny("nonce replayed")
	}
	c.nonces[tok.Nonce] = true
	return nil
}

// answer dispatches a call to its service.
func (c *ONVIFCamera) answer(ctx context.Context, path string, call ONVIFCall) (string, error) {
	switch {
	case strings.HasSuffix(path, "/device_service"):
		return c.device(call)
	case strings.HasSuffix(path, "/media_service"):
		return c.media(call)
	case strings.HasSuffix(path, "/ptz_service"):
		return c.ptzCall(call)
	case strings.HasSuffix(path, "/imaging_service"):
		return c.imagingCall(call)
	case strings.HasSuffix(path, "/events_service"):
		return c.events(call)
	case strings.Contains(path, "/subscription/"):
		return c.subscription(ctx, path[strings.LastIndex(path, "/")+1:], call)
	}
	return "", &soapFault{http.StatusNotFound, "env:Receiver", "ter:ActionNotSupported", "no service at " + path}
}

func unsupported(call ONVIFCall) error {
	return &soapFault{http.StatusBadRequest, "env:Receiver", "ter:ActionNotSupported", call.Action + " is not supported by " + call.Service}
}

func invalidArg(why string) error {
	return &soapFault{http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal", why}
}

func writeEnvelope(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env=%q xmlns:tt=%q xmlns:ter=%q xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:timg="http://www.onvif.org/ver20/imaging/wsdl" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tns1="http://www.onvif.org/ver10/topics"><env:Body>%s</env:Body></env:Envelope>`,
		nsEnv, nsTT, nsTER, body)
}

func writeFault(w http.ResponseWriter, err error) {
	var f *soapFault
	if !errors.As(err, &f) {
		f = &soapFault{http.StatusInternalServerError, "env:Receiver", "ter:Action", err.Error()}
	}
	writeEnvelope(w, f.status, fmt.Sprintf(`<env:Fault><env:Code><env:Value>%s</env:Value><env:Subcode><env:Value>%s</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">%s</env:Text></env:Reason></env:Fault>`,
		f.code, f.subcode, escape(f.reason)))
}

// escape is s as XML character data or attribute value.
func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
