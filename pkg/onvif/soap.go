// Package onvif speaks the small part of ONVIF a recorder needs: SOAP 1.2
// over HTTP with WS-Security UsernameToken digest, device and media
// services, and WS-Discovery. It is built on encoding/xml alone; every
// response is read through a size cap and a nesting-depth check so that a
// hostile or broken camera yields an error, never unbounded memory.
package onvif

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/httpclient"
)

// MaxResponseBytes caps every SOAP response body; ONVIF answers a recorder
// asks for (profiles, capabilities) stay far below it.
const MaxResponseBytes = 1 << 20

// maxDepth bounds XML nesting; real ONVIF answers nest about a dozen deep.
const maxDepth = 64

// DefaultTimeout is the whole-call deadline when the context has none.
const DefaultTimeout = 10 * time.Second

// Namespaces used across the services.
const (
	NSSoap   = "http://www.w3.org/2003/05/soap-envelope"
	NSDevice = "http://www.onvif.org/ver10/device/wsdl"
	NSMedia  = "http://www.onvif.org/ver10/media/wsdl"
	NSSchema = "http://www.onvif.org/ver10/schema"
)

// Fault is a SOAP fault returned by the device.
type Fault struct {
	Code    string // e.g. "env:Sender"
	Subcode string // e.g. "ter:NotAuthorized"
	Reason  string
	Status  int // HTTP status carrying the fault
}

func (f *Fault) Error() string {
	s := "onvif: soap fault " + f.Code
	if f.Subcode != "" {
		s += "/" + f.Subcode
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// IsAuthFault reports whether err is a fault or HTTP status that means the
// credentials (or the clock used for the digest) were refused.
func IsAuthFault(err error) bool {
	var f *Fault
	if errors.As(err, &f) {
		return f.Status == fasthttp.StatusUnauthorized ||
			strings.Contains(f.Subcode, "NotAuthorized") ||
			strings.Contains(f.Subcode, "FailedAuthentication")
	}
	var h *HTTPError
	return errors.As(err, &h) && h.Status == fasthttp.StatusUnauthorized
}

// HTTPError is a non-200 answer that carried no SOAP fault.
type HTTPError struct{ Status int }

func (e *HTTPError) Error() string { return fmt.Sprintf("onvif: http status %d", e.Status) }

// Client calls ONVIF services of one device. The zero value is not usable;
// make one with NewClient. A Client is safe for concurrent use.
type Client struct {
	HTTP     *httpclient.Client
	Username string
	Password string

	mu     sync.Mutex
	offset time.Duration // device clock minus local clock
	now    func() time.Time
}

// NewClient returns a client with bounded HTTP timeouts. Username may be
// empty: then no WS-Security header is sent.
func NewClient(username, password string) *Client {
	return &Client{
		// The client follows no redirect: a SOAP endpoint never legitimately
		// redirects, and following one would resend credentials to another host.
		HTTP:     httpclient.New(httpclient.Options{Timeout: DefaultTimeout, MaxBody: MaxResponseBytes}),
		Username: username,
		Password: password,
		now:      time.Now,
	}
}

// envelope is the outgoing SOAP 1.2 envelope.
type envelope struct {
	XMLName xml.Name `xml:"s:Envelope"`
	NS      string   `xml:"xmlns:s,attr"`
	Header  *header  `xml:"s:Header,omitempty"`
	Body    struct {
		Content any
	} `xml:"s:Body"`
}

type header struct {
	Security *security
}

// Call posts body (a struct marshalled into the SOAP Body) to the service
// URL and decodes the first element of the response Body into resp (may be
// nil). A SOAP fault becomes a *Fault; a non-200 without fault an
// *HTTPError.
func (c *Client) Call(ctx context.Context, url string, body any, resp any) error {
	payload, err := c.marshal(body)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, res := new(fasthttp.Request), new(fasthttp.Response)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(url)
	req.Header.SetContentType(`application/soap+xml; charset=utf-8`)
	req.SetBody(payload)
	if err := c.HTTP.Do(ctx, req, res); err != nil {
		return fmt.Errorf("onvif: call %s: %w", url, err)
	}
	if err := decodeResponse(res.Body(), res.StatusCode(), resp); err != nil {
		return fmt.Errorf("onvif: %s: %w", url, err)
	}
	return nil
}

func (c *Client) marshal(body any) ([]byte, error) {
	env := envelope{NS: NSSoap}
	env.Body.Content = body
	if c.Username != "" {
		env.Header = &header{Security: newSecurity(c.Username, c.Password, c.deviceNow())}
	}
	out, err := xml.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("onvif: marshal request: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

// responseEnvelope captures the raw Body so that the fault check and the
// decode into the caller's type both see it.
type responseEnvelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Body    struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

type soapFault struct {
	XMLName xml.Name `xml:"Fault"`
	Code    struct {
		Value   string `xml:"Value"`
		Subcode struct {
			Value string `xml:"Value"`
		} `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text string `xml:"Text"`
	} `xml:"Reason"`
	// SOAP 1.1 shapes, which some cameras still send.
	FaultCode   string `xml:"faultcode"`
	FaultString string `xml:"faultstring"`
}

// decodeResponse checks depth and envelope shape, turns faults into
// errors, then decodes the Body's first element into resp.
func decodeResponse(data []byte, status int, resp any) error {
	if err := checkDepth(data); err != nil {
		return err
	}
	var env responseEnvelope
	if err := xml.Unmarshal(data, &env); err != nil {
		if status != fasthttp.StatusOK {
			return &HTTPError{Status: status}
		}
		return fmt.Errorf("decode envelope: %w", err)
	}
	if env.XMLName.Space != NSSoap && env.XMLName.Space != "http://schemas.xmlsoap.org/soap/envelope/" {
		return fmt.Errorf("not a SOAP envelope (namespace %q)", env.XMLName.Space)
	}
	inner := bytes.TrimSpace(env.Body.Inner)
	if f := parseFault(inner, status); f != nil {
		return f
	}
	if status != fasthttp.StatusOK {
		return &HTTPError{Status: status}
	}
	if resp == nil {
		return nil
	}
	if len(inner) == 0 {
		return errors.New("empty SOAP body")
	}
	// innerxml loses the namespace declarations of the envelope; decoding
	// by local name (the response structs carry no namespaces) keeps this
	// tolerant of the prefixes different firmwares choose.
	if err := xml.Unmarshal(inner, resp); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func parseFault(inner []byte, status int) *Fault {
	var f soapFault
	if xml.Unmarshal(inner, &f) != nil || f.XMLName.Local != "Fault" {
		return nil
	}
	out := &Fault{
		Code:    strings.TrimSpace(f.Code.Value),
		Subcode: strings.TrimSpace(f.Code.Subcode.Value),
		Reason:  strings.TrimSpace(f.Reason.Text),
		Status:  status,
	}
	if out.Code == "" {
		out.Code = strings.TrimSpace(f.FaultCode)
		out.Reason = strings.TrimSpace(f.FaultString)
	}
	return out
}

// checkDepth walks the tokens once and refuses documents nested deeper
// than maxDepth, which encoding/xml would otherwise follow recursively.
func checkDepth(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if depth != 0 {
				return errors.New("xml: unexpected EOF")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("xml: %w", err)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return fmt.Errorf("xml nested deeper than %d", maxDepth)
			}
		case xml.EndElement:
			depth--
		}
	}
}
