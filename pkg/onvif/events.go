package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/event"
)

// EventOptions set up the event follower of one stream's camera.
type EventOptions struct {
	Stream             string // the stream the camera's events are published for
	DeviceURL          string
	Username, Password string
	Bus                *event.Bus
	Logger             *slog.Logger
	// Retry is the wait between sessions after the camera fails or reboots.
	Retry backoff.Backoff
	// Lifetime is the subscription lifetime asked for; renewed at half of
	// what the camera grants.
	Lifetime time.Duration
	// Consumers takes the messages of cameras that only push (Basic
	// Notification); nil follows PullPoint cameras only.
	Consumers *Consumers
}

const (
	defaultLifetime = time.Minute
	// pullWait is PullMessages' long-poll, well inside the HTTP deadline.
	pullWait = 5 * time.Second
	// maxMessages caps one PullMessages answer.
	maxMessages = 32
)

// errNoEvents is returned when the device lists no event service.
var errNoEvents = errors.New("onvif: device has no event service")

// RunEvents follows the camera's events until ctx ends: it holds one
// subscription, renews it before it expires and, when the camera fails or
// reboots, subscribes again after a backoff. Every active detection event
// is published on the bus with normalised labels. The subscription is a
// PullPoint; a camera without one (its event capabilities say so, or it
// refuses CreatePullPointSubscription with a fault) gets a Basic
// Notification subscription that pushes to opt.Consumers.
func RunEvents(ctx context.Context, opt EventOptions) error {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Lifetime <= 0 {
		opt.Lifetime = defaultLifetime
	}
	log := opt.Logger.With("stream", opt.Stream, "onvif", "events")
	b := opt.Retry.Or(backoff.Backoff{Min: time.Second, Max: 30 * time.Second})
	for {
		progressed, err := runSession(ctx, opt, log)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if progressed {
			b.Reset()
		}
		log.Warn("camera event subscription ended; subscribing again", "err", err)
		if err := b.Wait(ctx); err != nil {
			return err
		}
	}
}

// subscription is one live subscription, pulled or pushed.
type subscription struct {
	dev     *Device
	addr    string
	expires time.Time // local clock
	granted time.Duration
}

// runSession connects, subscribes and follows until an error; progressed
// says a pull, renewal or pushed message succeeded, so the next failure
// starts the backoff afresh.
func runSession(ctx context.Context, opt EventOptions, log *slog.Logger) (progressed bool, err error) {
	dev, err := Connect(ctx, opt.DeviceURL, opt.Username, opt.Password)
	if err != nil {
		return false, err
	}
	if dev.Services.Events == "" {
		return false, errNoEvents
	}
	if !dev.pullPointSupported(ctx) {
		return runPushed(ctx, opt, dev, log)
	}
	pp, err := subscribe(ctx, dev, opt.Lifetime)
	var fault *Fault
	if errors.As(err, &fault) && !IsAuthFault(err) {
		log.Info("camera refused a PullPoint subscription; asking it to push", "err", err)
		return runPushed(ctx, opt, dev, log)
	}
	if err != nil {
		return false, err
	}
	log.Info("camera events subscribed", "lifetime", pp.granted)
	defer pp.unsubscribe()
	for {
		if time.Until(pp.expires) < pp.granted/2 {
			if err := pp.renew(ctx, opt.Lifetime); err != nil {
				return progressed, err
			}
		}
		msgs, err := pp.pull(ctx, min(pullWait, pp.granted/4))
		if err != nil {
			return progressed, err
		}
		progressed = true
		publish(opt, dev, msgs, log)
	}
}

// publish puts the active detections among msgs on the bus.
func publish(opt EventOptions, dev *Device, msgs []notification, log *slog.Logger) {
	for _, m := range msgs {
		if e, ok := m.event(opt.Stream, dev.ClockOffset()); ok {
			log.Debug("camera event", "topic", m.Topic, "labels", e.Detections)
			opt.Bus.Publish(e)
		}
	}
}

type getEventCapabilities struct {
	XMLName xml.Name `xml:"tev:GetServiceCapabilities"`
	NS      string   `xml:"xmlns:tev,attr"`
}

type eventCapabilitiesResponse struct {
	Capabilities struct {
		PullPoint string `xml:"WSPullPointSupport,attr"`
	} `xml:"Capabilities"`
}

// pullPointSupported is false only when the event service says it has no
// PullPoint; a camera that does not answer is tried.
func (d *Device) pullPointSupported(ctx context.Context) bool {
	var resp eventCapabilitiesResponse
	if d.Call(ctx, d.Services.Events, getEventCapabilities{NS: NSEvents}, &resp) != nil {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(resp.Capabilities.PullPoint)) {
	case "false", "0":
		return false
	}
	return true
}

type createPullPointSubscription struct {
	XMLName xml.Name `xml:"tev:CreatePullPointSubscription"`
	NS      string   `xml:"xmlns:tev,attr"`
	Initial string   `xml:"tev:InitialTerminationTime"`
}

type createPullPointSubscriptionResponse struct {
	Address     string `xml:"SubscriptionReference>Address"`
	CurrentTime string `xml:"CurrentTime"`
	Termination string `xml:"TerminationTime"`
}

func subscribe(ctx context.Context, dev *Device, lifetime time.Duration) (*subscription, error) {
	req := createPullPointSubscription{NS: NSEvents, Initial: xsdDuration(lifetime)}
	return openSubscription(ctx, dev, "create pull point subscription", req, lifetime)
}

// openSubscription sends req, a request that creates a subscription, to
// the event service and reads the subscription's address and lifetime.
func openSubscription(ctx context.Context, dev *Device, what string, req any, lifetime time.Duration) (*subscription, error) {
	var resp createPullPointSubscriptionResponse
	if err := dev.Call(ctx, dev.Services.Events, req, &resp); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	addr := dev.sameHost(strings.TrimSpace(resp.Address))
	if addr == "" {
		return nil, errors.New("onvif: subscription without an address")
	}
	sub := &subscription{dev: dev, addr: addr}
	sub.extend(resp.CurrentTime, resp.Termination, lifetime)
	return sub, nil
}

// extend sets the expiry from the device's current and termination times,
// which are on its own clock: only their difference is used.
func (pp *subscription) extend(current, termination string, asked time.Duration) {
	cur, err1 := time.Parse(time.RFC3339Nano, strings.TrimSpace(current))
	end, err2 := time.Parse(time.RFC3339Nano, strings.TrimSpace(termination))
	granted := asked
	if err1 == nil && err2 == nil && end.After(cur) {
		granted = min(end.Sub(cur), asked)
	}
	pp.granted = max(granted, 2*time.Second)
	pp.expires = time.Now().Add(pp.granted)
}

type renew struct {
	XMLName     xml.Name `xml:"wsnt:Renew"`
	NS          string   `xml:"xmlns:wsnt,attr"`
	Termination string   `xml:"wsnt:TerminationTime"`
}

type renewResponse struct {
	Termination string `xml:"TerminationTime"`
	CurrentTime string `xml:"CurrentTime"`
}

const nsNotification = "http://docs.oasis-open.org/wsn/b-2"

func (pp *subscription) renew(ctx context.Context, lifetime time.Duration) error {
	var resp renewResponse
	if err := pp.dev.Call(ctx, pp.addr, renew{NS: nsNotification, Termination: xsdDuration(lifetime)}, &resp); err != nil {
		return fmt.Errorf("renew subscription: %w", err)
	}
	pp.extend(resp.CurrentTime, resp.Termination, lifetime)
	return nil
}

type pullMessages struct {
	XMLName xml.Name `xml:"tev:PullMessages"`
	NS      string   `xml:"xmlns:tev,attr"`
	Timeout string   `xml:"tev:Timeout"`
	Limit   int      `xml:"tev:MessageLimit"`
}

type pullMessagesResponse struct {
	Messages []notification `xml:"NotificationMessage"`
}

func (pp *subscription) pull(ctx context.Context, wait time.Duration) ([]notification, error) {
	var resp pullMessagesResponse
	if err := pp.dev.Call(ctx, pp.addr, pullMessages{NS: NSEvents, Timeout: xsdDuration(wait), Limit: maxMessages}, &resp); err != nil {
		return nil, fmt.Errorf("pull messages: %w", err)
	}
	return resp.Messages, nil
}

type unsubscribe struct {
	XMLName xml.Name `xml:"wsnt:Unsubscribe"`
	NS      string   `xml:"xmlns:wsnt,attr"`
}

// unsubscribe ends the subscription, best effort: a camera that went away
// drops it when it expires.
func (pp *subscription) unsubscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = pp.dev.Call(ctx, pp.addr, unsubscribe{NS: nsNotification}, nil)
}

// xsdDuration is d as the xsd:duration ONVIF wants, whole seconds.
func xsdDuration(d time.Duration) string {
	return fmt.Sprintf("PT%dS", max(int(d/time.Second), 1))
}

// notification is one wsnt:NotificationMessage.
type notification struct {
	Topic   string `xml:"Topic"`
	Message struct {
		UtcTime   string      `xml:"UtcTime,attr"`
		Operation string      `xml:"PropertyOperation,attr"`
		Source    simpleItems `xml:"Source"`
		Data      simpleItems `xml:"Data"`
	} `xml:"Message>Message"`
}

type simpleItems struct {
	Items []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:"Value,attr"`
	} `xml:"SimpleItem"`
}

// maxEventAge bounds how far back a camera's event time may place an
// event; a camera clock that drifted more is not believed.
const maxEventAge = time.Minute

// event is the bus event of an active detection message; false for
// messages that report nothing going on (IsMotion=false, other topics).
func (n notification) event(stream string, offset time.Duration) (event.Event, bool) {
	if !detectionTopic(n.Topic) || !n.active() {
		return event.Event{}, false
	}
	now := time.Now()
	at := now
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(n.Message.UtcTime)); err == nil {
		// The camera stamps events on its own clock: bring them to ours.
		if local := t.Add(-offset); local.Before(now) && now.Sub(local) < maxEventAge {
			at = local
		}
	}
	words := []string{n.Topic}
	for _, it := range n.Message.Data.Items {
		words = append(words, it.Name, it.Value)
	}
	label := NormaliseLabel(strings.Join(words, " "))
	return event.Event{Stream: stream, Time: at, Source: event.SourceONVIF, Detections: []event.Detection{
		{Label: label, Confidence: 1, Width: 1, Height: 1, TrackID: -1}}}, true
}

// active reports whether a data item says the condition holds.
func (n notification) active() bool {
	for _, it := range n.Message.Data.Items {
		switch strings.ToLower(strings.TrimSpace(it.Value)) {
		case "true", "1", "active", "on":
			return true
		}
	}
	return false
}

// detectionTopic says whether a topic reports something seen: motion,
// analytics rules, object detection, alarms.
func detectionTopic(topic string) bool {
	t := strings.ToLower(topic)
	for _, k := range []string{"motion", "ruleengine", "detect", "analytics", "alarm"} {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}

// labelWords lists, for each of LightNVR's labels, the words of camera
// topics and object classes that mean it, the most specific label first: an
// event naming several classes takes the first.
var labelWords = []struct {
	label string
	words []string
}{
	{"face", []string{"face"}},
	{"person", []string{"person", "people", "human", "pedestrian", "body"}},
	{"bicycle", []string{"bicycle", "bike", "cyclist"}},
	{"vehicle", []string{"vehicle", "car", "truck", "bus", "plate", "motorcycle"}},
	{"animal", []string{"animal", "dog", "cat", "pet", "bird"}},
}

// NormaliseLabel maps the words of a camera event (topic, data names and
// values; CamelCase is split; plurals count) to person, vehicle, bicycle,
// face, animal, else motion.
func NormaliseLabel(text string) string {
	said := map[string]bool{}
	for _, w := range splitWords(text) {
		said[w], said[strings.TrimSuffix(w, "s")] = true, true
	}
	for _, l := range labelWords {
		for _, w := range l.words {
			if said[w] {
				return l.label
			}
		}
	}
	return "motion"
}

// splitWords lower-cases text's words, splitting at anything not a letter
// and before an upper-case letter that follows a lower-case one.
func splitWords(text string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range text {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				flush()
			}
			cur, prevLower = append(cur, r), false
		case unicode.IsLetter(r):
			cur, prevLower = append(cur, r), true
		default:
			flush()
			prevLower = false
		}
	}
	flush()
	return words
}
