package go2rtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/httpclient"
	"lightnvr/pkg/logx"
)

// DefaultTimeout bounds one API call when the caller's context has no deadline.
const DefaultTimeout = 5 * time.Second

// maxReply bounds what we read from go2rtc; a stream list of 256 cameras is far below.
const maxReply = 16 << 20

// Client talks to go2rtc's HTTP API.
type Client struct {
	base  string
	hc    *httpclient.Client
	creds func() Credentials
}

// NewClient returns a client for the API at baseURL (Settings.APIURL()) of a
// go2rtc without credentials.
func NewClient(baseURL string) *Client {
	return NewClientWithAuth(baseURL, nil)
}

// NewClientWithAuth returns a client that sends creds() as basic auth on every
// call; creds is asked each time, so credentials that change with a go2rtc
// restart are picked up. A nil creds sends none.
func NewClientWithAuth(baseURL string, creds func() Credentials) *Client {
	return &Client{
		creds: creds,
		base:  strings.TrimRight(baseURL, "/"),
		hc: httpclient.New(httpclient.Options{
			Timeout: 30 * time.Second, // frame.jpeg may run ffmpeg
			MaxBody: maxReply,
		}),
	}
}

// CloseIdle drops kept-alive connections, e.g. after go2rtc restarted.
func (c *Client) CloseIdle() { c.hc.CloseIdle() }

// Info is GET /api.
type Info struct {
	Version    string `json:"version"`
	ConfigPath string `json:"config_path"`
	RTSP       struct {
		Listen string `json:"listen"`
	} `json:"rtsp"`
}

// StreamInfo is one entry of GET /api/streams.
type StreamInfo struct {
	Producers []Producer      `json:"producers"`
	Consumers json.RawMessage `json:"consumers"`
}

// Producer is a stream source as go2rtc reports it. An idle source only has
// URL; a connected one carries its connection's details and counters.
type Producer struct {
	ID        int        `json:"id"`
	URL       string     `json:"url"`
	Source    string     `json:"source"`
	Medias    []string   `json:"medias"`
	Receivers []Receiver `json:"receivers"`
	BytesRecv int64      `json:"bytes_recv"`
}

// Receiver is one track a connected producer receives.
type Receiver struct {
	Codec struct {
		Name string `json:"codec_name"`
		Type string `json:"codec_type"`
	} `json:"codec"`
	Bytes   int64 `json:"bytes"`
	Packets int64 `json:"packets"`
}

// Connected reports whether go2rtc holds a live connection to this source.
func (p Producer) Connected() bool { return p.ID != 0 }

// ConsumerCount is the number of clients reading the stream.
func (s StreamInfo) ConsumerCount() int {
	var list []json.RawMessage
	if len(s.Consumers) == 0 || json.Unmarshal(s.Consumers, &list) != nil {
		return 0
	}
	return len(list)
}

// APIError is a non-2xx reply from go2rtc.
type APIError struct {
	Method string
	Path   string
	Status int
	Body   string
}

func (e *APIError) Error() string {
	msg := strings.TrimSpace(e.Body)
	if msg == "" {
		msg = fasthttp.StatusMessage(e.Status)
	}
	return fmt.Sprintf("go2rtc %s %s: %d %s", e.Method, e.Path, e.Status, logx.RedactURL(msg))
}

// IsUnauthorized reports whether go2rtc refused our credentials (or their absence).
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == fasthttp.StatusUnauthorized
}

// IsNotFound reports whether err is go2rtc's 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == fasthttp.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, resp := new(fasthttp.Request), new(fasthttp.Response)
	req.Header.SetMethod(method)
	req.SetRequestURI(u)
	if c.creds != nil {
		if a := c.creds().Authorization(); a != "" {
			req.Header.Set(fasthttp.HeaderAuthorization, a)
		}
	}
	// The error never quotes the URL, whose query may hold camera passwords.
	if err := c.hc.Do(ctx, req, resp); err != nil {
		return nil, fmt.Errorf("go2rtc %s %s: %w", method, path, err)
	}
	body := resp.Body()
	if status := resp.StatusCode(); status < 200 || status > 299 {
		if len(body) > 512 {
			body = body[:512]
		}
		return nil, &APIError{Method: method, Path: path, Status: status, Body: string(body)}
	}
	return body, nil
}

// Info fetches GET /api; it doubles as the health check.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	body, err := c.do(ctx, fasthttp.MethodGet, "/api", nil)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, fmt.Errorf("go2rtc GET /api: decode: %w", err)
	}
	return info, nil
}

// Streams lists every stream go2rtc knows.
func (c *Client) Streams(ctx context.Context) (map[string]StreamInfo, error) {
	body, err := c.do(ctx, fasthttp.MethodGet, "/api/streams", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]StreamInfo{}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("go2rtc GET /api/streams: decode: %w", err)
	}
	return out, nil
}

// Stream fetches one stream; IsNotFound(err) when go2rtc does not know it.
func (c *Client) Stream(ctx context.Context, name string) (StreamInfo, error) {
	var si StreamInfo
	body, err := c.do(ctx, fasthttp.MethodGet, "/api/streams", url.Values{"src": {name}})
	if err != nil {
		return si, err
	}
	if err := json.Unmarshal(body, &si); err != nil {
		return si, fmt.Errorf("go2rtc GET /api/streams?src=%s: decode: %w", name, err)
	}
	return si, nil
}

// PutStream creates stream name with its sources, replacing one of the same name.
// Clients already reading the old stream stay on it until they reconnect.
func (c *Client) PutStream(ctx context.Context, name string, sources []string) error {
	if len(sources) == 0 {
		return fmt.Errorf("go2rtc PUT stream %q: no source", name)
	}
	q := url.Values{"name": {name}, "src": sources}
	if _, err := c.do(ctx, fasthttp.MethodPut, "/api/streams", q); err != nil {
		return fmt.Errorf("register stream %q: %w", name, err)
	}
	return nil
}

// DeleteStream removes stream name; removing an unknown name is not an error.
func (c *Client) DeleteStream(ctx context.Context, name string) error {
	if _, err := c.do(ctx, fasthttp.MethodDelete, "/api/streams", url.Values{"src": {name}}); err != nil {
		return fmt.Errorf("unregister stream %q: %w", name, err)
	}
	return nil
}

// Frame fetches a JPEG of stream name's current picture (GET
// /api/frame.jpeg); go2rtc decodes a keyframe for it, so a stream nobody
// reads yet answers only after its source connected.
func (c *Client) Frame(ctx context.Context, name string) ([]byte, error) {
	body, err := c.do(ctx, fasthttp.MethodGet, "/api/frame.jpeg", url.Values{"src": {name}})
	if err != nil {
		return nil, fmt.Errorf("frame of %q: %w", name, err)
	}
	return body, nil
}
