package onvif

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// NotifyPath is where our HTTP server takes the Notify messages cameras
// push (WS-BaseNotification); a subscription's token follows it.
const NotifyPath = "/api/onvif/notify/"

// MaxNotifyBytes bounds one Notify body; a camera's batch of event
// messages stays far below it.
const MaxNotifyBytes = 256 << 10

// ErrUnknownConsumer is Deliver's answer for a token no live subscription
// holds: a forged or stale Notify.
var ErrUnknownConsumer = errors.New("onvif: no camera subscription has this token")

// ErrConsumerBusy is Deliver's answer when the subscription's session has
// not yet read the bodies before: the camera floods it.
var ErrConsumerBusy = errors.New("onvif: too many unread notifications")

// errNoConsumer is a session's error when the camera pushes only and this
// process takes no pushed messages.
var errNoConsumer = errors.New("onvif: camera offers no PullPoint and no notification consumer is running")

// Consumers takes the Notify messages that cameras without a PullPoint
// push to our HTTP server. Each subscription gets its own unguessable token,
// the last element of its consumer address: a Notify is accepted only for
// a token this process handed to a camera and has not released, so the
// unauthenticated route cannot inject events.
type Consumers struct {
	scheme string
	port   int

	mu   sync.Mutex
	subs map[string]chan []notification
}

// NewConsumers is the consumer of the HTTP server listening on port,
// speaking scheme ("http" or "https").
func NewConsumers(scheme string, port int) *Consumers {
	return &Consumers{scheme: scheme, port: port, subs: map[string]chan []notification{}}
}

// consumerQueue is how many Notify batches wait for their session; a
// camera flooding past it loses messages, never memory.
const consumerQueue = 16

// register makes a token and the queue its messages arrive on; release
// forgets both.
func (c *Consumers) register() (token string, msgs <-chan []notification, release func()) {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	token = hex.EncodeToString(b)
	ch := make(chan []notification, consumerQueue)
	c.mu.Lock()
	c.subs[token] = ch
	c.mu.Unlock()
	return token, ch, func() {
		c.mu.Lock()
		delete(c.subs, token)
		c.mu.Unlock()
	}
}

// Deliver takes the Notify body a camera posted for token: its messages go
// to that subscription's session. ErrUnknownConsumer for a token no
// subscription holds (checked before the body is read), ErrConsumerBusy
// when its queue is full; another error for a body that is not a Notify.
func (c *Consumers) Deliver(token string, body []byte) error {
	c.mu.Lock()
	ch := c.subs[token]
	c.mu.Unlock()
	if ch == nil {
		return ErrUnknownConsumer
	}
	msgs, err := parseNotify(body)
	if err != nil {
		return err
	}
	select {
	case ch <- msgs:
	default:
		return ErrConsumerBusy
	}
	return nil
}

// notify is a wsnt:Notify, the one message a consumer takes.
type notify struct {
	XMLName  xml.Name       `xml:"Notify"`
	Messages []notification `xml:"NotificationMessage"`
}

// parseNotify reads a pushed Notify with the same bounds as a response.
func parseNotify(body []byte) ([]notification, error) {
	if len(body) > MaxNotifyBytes {
		return nil, fmt.Errorf("onvif: notify larger than %d bytes", MaxNotifyBytes)
	}
	var n notify
	if err := decodeResponse(body, 200, &n); err != nil {
		return nil, fmt.Errorf("onvif: notify: %w", err)
	}
	return n.Messages, nil
}

// address is the consumer address for token that the camera at service
// reaches: our side's address of a connection to the camera, so it is on
// the interface (and family) that routes to it, with our HTTP port.
func (c *Consumers) address(ctx context.Context, service, token string) (string, error) {
	u, err := url.Parse(service)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("onvif: event service %q: bad URL", service)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	host := net.JoinHostPort(u.Hostname(), port)
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if err != nil {
		return "", fmt.Errorf("onvif: reach the camera to learn our address: %w", err)
	}
	local := conn.LocalAddr().(*net.TCPAddr).IP
	_ = conn.Close()
	return (&url.URL{Scheme: c.scheme, Host: net.JoinHostPort(local.String(), strconv.Itoa(c.port)), Path: NotifyPath + token}).String(), nil
}
