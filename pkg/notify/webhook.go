package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
	"lightnvr/pkg/httpclient"
)

// Kind is the type of a webhook event; each kind has its own URL.
type Kind string

const (
	KindDetection Kind = "detection"        // an event of the event bus
	KindStorage   Kind = "storage_pressure" // the storage pressure level changed
	KindStream    Kind = "stream_state"     // a stream went online or offline, or its recording started or stopped
	KindTest      Kind = "test"             // the settings page's Test button
)

// Header names of a delivery (docs/notify.md).
const (
	HeaderSignature = "X-LightNVR-Signature" // "sha256=" + hex HMAC-SHA256 of the body
	HeaderEvent     = "X-LightNVR-Event"     // the Kind
	HeaderDelivery  = "X-LightNVR-Delivery"  // the body's id, the same on every attempt
)

// WebhookOptions configure Webhooks.
type WebhookOptions struct {
	// Enabled sends the events of Start; Test works either way.
	Enabled bool
	// URLs maps each kind to its receiver; a kind without one is not sent.
	URLs map[Kind]string
	// Secret signs every body; "" sends no signature header.
	Secret string
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Retries is the number of attempts after the first.
	Retries int
	// Queue bounds the deliveries waiting (default 100).
	Queue int
	// Backoff is the wait between attempts (default 1 s doubling to 30 s).
	Backoff backoff.Backoff
	// History is how many results are kept per URL (default 20).
	History int
	Logger  *slog.Logger
}

// WebhookOptionsFrom reads [webhooks].
func WebhookOptionsFrom(c config.WebhooksConfig) WebhookOptions {
	return WebhookOptions{
		Enabled: c.Enabled,
		URLs:    map[Kind]string{KindDetection: c.DetectionURL, KindStorage: c.StorageURL, KindStream: c.StreamURL},
		Secret:  c.Secret,
		Timeout: time.Duration(c.Timeout) * time.Second,
		Retries: c.Retries,
		Queue:   c.QueueSize,
	}
}

func (o *WebhookOptions) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	o.Retries = max(o.Retries, 0)
	if o.Queue <= 0 {
		o.Queue = 100
	}
	o.Backoff = o.Backoff.Or(backoff.Backoff{Min: time.Second, Max: 30 * time.Second})
	if o.History <= 0 {
		o.History = 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Result is the outcome of one delivery, all its attempts together.
type Result struct {
	Time     time.Time `json:"time"`
	URL      string    `json:"url"`
	Type     Kind      `json:"type"`
	ID       string    `json:"id"`
	OK       bool      `json:"ok"`
	Status   int       `json:"status"` // HTTP status of the last attempt; 0 when none came back
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
}

// Status is what GET /api/notify/webhooks/status shows.
type Status struct {
	Enabled   bool   `json:"enabled"`
	Queued    int    `json:"queued"`
	QueueSize int    `json:"queue_size"`
	Dropped   uint64 `json:"dropped"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	// Results holds the last results of each URL, newest first.
	Results map[string][]Result `json:"results"`
}

// delivery is one body on its way to one URL.
type delivery struct {
	kind Kind
	url  string
	id   string
	body []byte
}

// Webhooks sends events to their URLs from one goroutine, so a receiver
// that hangs holds up only the webhooks, never who sent the event.
type Webhooks struct {
	opt    WebhookOptions
	client *httpclient.Client

	queue   *queue[delivery]
	mu      sync.Mutex
	results map[string][]Result

	delivered, failed atomic.Uint64

	sub    *event.Subscription // the bus's detections; nil: none
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWebhooks returns Webhooks that send nothing until Start.
func NewWebhooks(opt WebhookOptions) *Webhooks {
	opt.defaults()
	return &Webhooks{
		opt:     opt,
		client:  httpclient.New(httpclient.Options{}),
		results: map[string][]Result{},
		queue:   newQueue[delivery](opt.Queue, 0, nil),
	}
}

// Start subscribes to bus (nil: no detection events) and starts sending.
// It does nothing when the options are not Enabled. Stop ends it.
func (w *Webhooks) Start(bus *event.Bus) {
	if !w.opt.Enabled || w.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	if bus != nil && w.opt.URLs[KindDetection] != "" {
		var events func()
		w.sub, events = follow(ctx, bus, 64, func(e event.Event) { w.Send(KindDetection, e.Time, e) })
		wg.Add(1)
		go func() { defer wg.Done(); events() }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.work(ctx) }()
	go func() { wg.Wait(); close(w.done) }()
}

// Stop ends Start; deliveries still queued are dropped.
func (w *Webhooks) Stop(ctx context.Context) error {
	if w.done == nil {
		return nil
	}
	w.cancel()
	select {
	case <-ctx.Done():
		return fmt.Errorf("stop webhooks: %w", ctx.Err())
	case <-w.done:
	}
	return nil
}

// Send queues data as an event of kind that happened at t. It never
// blocks: past the queue's bound the oldest delivery is dropped and counted.
func (w *Webhooks) Send(kind Kind, t time.Time, data any) {
	url := w.opt.URLs[kind]
	if !w.opt.Enabled || url == "" {
		return
	}
	d, err := newDelivery(kind, url, t, data)
	if err != nil {
		w.opt.Logger.Error("webhook body", "type", kind, "err", err)
		return
	}
	w.queue.push(d)
}

// body is the JSON every receiver gets.
type body struct {
	ID   string    `json:"id"`
	Type Kind      `json:"type"`
	Time time.Time `json:"time"`
	Data any       `json:"data"`
}

func newDelivery(kind Kind, url string, t time.Time, data any) (delivery, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	d := delivery{kind: kind, url: url, id: hex.EncodeToString(id[:])}
	b, err := json.Marshal(body{ID: d.id, Type: kind, Time: t.UTC(), Data: data})
	if err != nil {
		return delivery{}, fmt.Errorf("encode %s event: %w", kind, err)
	}
	d.body = b
	return d, nil
}

// work sends the queue, oldest first, until ctx ends.
func (w *Webhooks) work(ctx context.Context) {
	for {
		d, ok := w.queue.take()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-w.queue.ready:
				continue
			}
		}
		r := w.deliver(ctx, d, w.opt.Retries)
		if ctx.Err() != nil {
			return
		}
		if r.OK {
			w.delivered.Add(1)
		} else {
			w.failed.Add(1)
			w.opt.Logger.Warn("webhook not delivered", "type", d.kind, "url", d.url, "attempts", r.Attempts, "err", r.Error)
		}
	}
}

// deliver tries d up to 1+retries times and records the result.
func (w *Webhooks) deliver(ctx context.Context, d delivery, retries int) Result {
	r := Result{Time: time.Now(), URL: d.url, Type: d.kind, ID: d.id}
	wait := w.opt.Backoff
	for {
		r.Attempts++
		status, err := w.post(ctx, d)
		r.Status, r.OK = status, err == nil
		if err == nil {
			r.Error = ""
			break
		}
		r.Error = err.Error()
		if r.Attempts > retries || !retryable(status) || wait.Wait(ctx) != nil {
			break
		}
	}
	w.record(r)
	return r
}

// retryable: the receiver may answer differently next time (it was not
// reached, or it said so); other refusals will not change.
func retryable(status int) bool {
	return status == 0 || status == fasthttp.StatusRequestTimeout || status == fasthttp.StatusTooManyRequests || status >= 500
}

// post makes one attempt; a reply other than 2xx is an error.
func (w *Webhooks) post(ctx context.Context, d delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.opt.Timeout)
	defer cancel()
	req, resp := new(fasthttp.Request), new(fasthttp.Response)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(d.url)
	req.Header.SetContentType("application/json")
	req.Header.SetUserAgent("LightNVR-Webhook")
	req.Header.Set(HeaderEvent, string(d.kind))
	req.Header.Set(HeaderDelivery, d.id)
	if w.opt.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(w.opt.Secret, d.body))
	}
	req.SetBody(d.body)
	if err := w.client.Do(ctx, req, resp); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no reply within %s", w.opt.Timeout)
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	if status := resp.StatusCode(); status/100 != 2 {
		return status, fmt.Errorf("receiver answered %d %s", status, fasthttp.StatusMessage(status))
	}
	return resp.StatusCode(), nil
}

// Sign is the value of HeaderSignature for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *Webhooks) record(r Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rs := append([]Result{r}, w.results[r.URL]...)
	w.results[r.URL] = rs[:min(len(rs), w.opt.History)]
}

// Status is the queue and the last results of each URL.
func (w *Webhooks) Status() Status {
	queued, dropped := w.queue.counts()
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Status{
		Enabled: w.opt.Enabled, Queued: queued, QueueSize: w.opt.Queue,
		Dropped: dropped, Delivered: w.delivered.Load(), Failed: w.failed.Load(),
		Results: make(map[string][]Result, len(w.results)),
	}
	for u, rs := range w.results {
		s.Results[u] = append([]Result(nil), rs...)
	}
	return s
}

// Test sends a test event, once and at once, to every URL of opt (the
// saved settings, which may be newer than the running ones) and records the
// results with the others.
func (w *Webhooks) Test(ctx context.Context, opt WebhookOptions) []Result {
	opt.defaults()
	t := &Webhooks{opt: opt, client: w.client, results: map[string][]Result{}}
	out := []Result{}
	for _, kind := range []Kind{KindDetection, KindStorage, KindStream} {
		url := opt.URLs[kind]
		if url == "" {
			continue
		}
		d, err := newDelivery(KindTest, url, time.Now(), map[string]any{"for": kind, "message": "LightNVR webhook test"})
		if err != nil {
			continue
		}
		r := t.deliver(ctx, d, 0)
		w.record(r)
		out = append(out, r)
	}
	return out
}

// streamChange is the data of a KindStream body.
type streamChange struct {
	Stream    string `json:"stream"`
	Change    string `json:"change"`
	Online    bool   `json:"online"`
	Recording bool   `json:"recording"`
}

// WantsStreams is true when the stream webhook is on; it does not change
// while the daemon runs. It is a StreamSink.
func (w *Webhooks) WantsStreams() bool { return w.opt.Enabled && w.opt.URLs[KindStream] != "" }

// StreamsChanged sends each change, online/offline first, then recording.
// A stream seen the first time comes from offline and not recording, so
// the receiver learns of the streams that are up at start. It is a StreamSink.
func (w *Webhooks) StreamsChanged(_ []string, changes []StreamChange) {
	now := time.Now()
	for _, c := range changes {
		cur := c.Current
		send := func(change string) {
			w.Send(KindStream, now, streamChange{Stream: cur.Name, Change: change, Online: cur.Online, Recording: cur.Recording})
		}
		if cur.Online != c.Previous.Online {
			send(onOff(cur.Online, "online", "offline"))
		}
		if cur.Recording != c.Previous.Recording {
			send(onOff(cur.Recording, "recording_started", "recording_stopped"))
		}
	}
}
