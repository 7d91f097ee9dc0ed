package testkit

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ONVIFEvent is a notification the device sends its subscribers.
type ONVIFEvent struct {
	// Topic is the concrete topic, e.g. tns1:RuleEngine/CellMotionDetector/Motion.
	Topic string
	// Source and Data are the message's SimpleItems, e.g. Data
	// {"IsMotion": "true"}.
	Source, Data map[string]string
	// Time is the event's time on the host's clock (zero: now); the message
	// carries it on the device's clock.
	Time time.Time
}

// pullSub is one subscription: a PullPoint, or a Basic Notification one
// when consumer is set.
type pullSub struct {
	queue    []ONVIFEvent
	wake     chan struct{} // a message was queued
	gone     chan struct{} // the device rebooted
	expires  time.Time     // device clock
	consumer string        // where Notify messages are pushed
}

func (s *pullSub) end() { close(s.gone) }

// Subscriptions is how many subscriptions are live.
func (c *ONVIFCamera) Subscriptions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.subs {
		if c.now().Before(s.expires) {
			n++
		}
	}
	return n
}

// Emit queues ev on every live PullPoint subscription and posts it to the
// consumer of every live pushed one; it returns how many took it (a
// consumer takes it when it answers 2xx).
func (c *ONVIFCamera) Emit(ev ONVIFEvent) int {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	c.mu.Lock()
	n := 0
	var push []string
	for id, s := range c.subs {
		switch {
		case !c.now().Before(s.expires):
		case s.consumer != "":
			push = append(push, id)
		default:
			s.queue = append(s.queue, ev)
			select {
			case s.wake <- struct{}{}:
			default:
			}
			n++
		}
	}
	c.mu.Unlock()
	for _, id := range push {
		if c.push(id, ev) == nil {
			n++
		}
	}
	return n
}

func (c *ONVIFCamera) events(call ONVIFCall) (string, error) {
	switch {
	case call.Action == "GetServiceCapabilities" && !c.opt.HideEventCapabilities:
		return fmt.Sprintf(`<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="false" WSPullPointSupport="%t" WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="4" MaxPullPoints="4"/></tev:GetServiceCapabilitiesResponse>`,
			!c.opt.BasicNotification), nil
	case call.Action == "CreatePullPointSubscription" && !c.opt.BasicNotification:
		return c.subscribe(call, "tev:CreatePullPointSubscriptionResponse", "tev:SubscriptionReference", "")
	case call.Action == "Subscribe":
		var req struct {
			Consumer string `xml:"ConsumerReference>Address"`
		}
		if err := call.Decode(&req); err != nil || !strings.HasPrefix(req.Consumer, "http") {
			return "", invalidArg("Subscribe needs a ConsumerReference http(s) address")
		}
		return c.subscribe(call, "wsnt:SubscribeResponse", "wsnt:SubscriptionReference", strings.TrimSpace(req.Consumer))
	}
	return "", unsupported(call)
}

// subscribe makes a subscription, pushed to consumer when set, and answers
// with its reference in the response element resp.
func (c *ONVIFCamera) subscribe(call ONVIFCall, resp, ref, consumer string) (string, error) {
	var req struct {
		Initial string `xml:"InitialTerminationTime"`
	}
	if err := call.Decode(&req); err != nil {
		return "", invalidArg(err.Error())
	}
	now := c.now()
	c.mu.Lock()
	c.nextSub++
	id := strconv.Itoa(c.nextSub)
	s := &pullSub{wake: make(chan struct{}, 1), gone: make(chan struct{}), expires: c.termination(now, req.Initial), consumer: consumer}
	c.subs[id] = s
	c.mu.Unlock()
	return fmt.Sprintf(`<%[1]s><%[2]s><wsa:Address>%[3]s</wsa:Address></%[2]s><wsnt:CurrentTime>%[4]s</wsnt:CurrentTime><wsnt:TerminationTime>%[5]s</wsnt:TerminationTime></%[1]s>`,
		resp, ref, c.subAddress(id), stamp(now), stamp(s.expires)), nil
}

func (c *ONVIFCamera) subAddress(id string) string { return c.base() + "/onvif/subscription/" + id }

// termination is the end the device grants for a requested one (an
// xsd:duration or dateTime), capped at MaxTermination.
func (c *ONVIFCamera) termination(now time.Time, asked string) time.Time {
	limit := now.Add(c.opt.MaxTermination)
	asked = strings.TrimSpace(asked)
	if d, ok := parseDuration(asked); ok && now.Add(d).Before(limit) {
		return now.Add(d)
	}
	if t, err := time.Parse(time.RFC3339, asked); err == nil && t.Before(limit) {
		return t
	}
	return limit
}

var durationRE = regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$`)

// parseDuration reads the time-only xsd:durations ONVIF clients send.
func parseDuration(s string) (time.Duration, bool) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "PT" {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, _ := strconv.ParseFloat(m[3], 64)
	return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(sec*float64(time.Second)), true
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (c *ONVIFCamera) subscription(ctx context.Context, id string, call ONVIFCall) (string, error) {
	c.mu.Lock()
	s := c.subs[id]
	now := c.now()
	if s != nil && !now.Before(s.expires) {
		delete(c.subs, id)
		s = nil
	}
	c.mu.Unlock()
	if s == nil {
		return "", &soapFault{http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal", "unknown or expired subscription " + id}
	}
	switch call.Action {
	case "PullMessages":
		return c.pull(ctx, s, call)
	case "Renew":
		var req struct {
			Termination string `xml:"TerminationTime"`
		}
		if err := call.Decode(&req); err != nil {
			return "", invalidArg(err.Error())
		}
		c.mu.Lock()
		s.expires = c.termination(now, req.Termination)
		exp := s.expires
		c.mu.Unlock()
		return fmt.Sprintf(`<wsnt:RenewResponse><wsnt:TerminationTime>%s</wsnt:TerminationTime><wsnt:CurrentTime>%s</wsnt:CurrentTime></wsnt:RenewResponse>`, stamp(exp), stamp(now)), nil
	case "Unsubscribe":
		c.mu.Lock()
		delete(c.subs, id)
		c.mu.Unlock()
		return `<wsnt:UnsubscribeResponse/>`, nil
	}
	return "", unsupported(call)
}

// pull answers PullMessages: the queued messages, waiting up to the
// request's Timeout for the first.
func (c *ONVIFCamera) pull(ctx context.Context, s *pullSub, call ONVIFCall) (string, error) {
	var req struct {
		Timeout string `xml:"Timeout"`
		Limit   int    `xml:"MessageLimit"`
	}
	if err := call.Decode(&req); err != nil {
		return "", invalidArg(err.Error())
	}
	wait, ok := parseDuration(strings.TrimSpace(req.Timeout))
	if !ok || req.Limit <= 0 {
		return "", invalidArg("PullMessages needs a Timeout and a MessageLimit")
	}
	timer := time.NewTimer(min(wait, time.Minute))
	defer timer.Stop()
	for {
		c.mu.Lock()
		n := min(len(s.queue), req.Limit)
		msgs := s.queue[:n:n]
		s.queue = s.queue[n:]
		exp := s.expires
		c.mu.Unlock()
		if n > 0 {
			return c.pullResponse(msgs, exp), nil
		}
		select {
		case <-s.wake:
		case <-timer.C:
			return c.pullResponse(nil, exp), nil
		case <-s.gone:
			return "", fmt.Errorf("device restarting")
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (c *ONVIFCamera) pullResponse(msgs []ONVIFEvent, exp time.Time) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `<tev:PullMessagesResponse><tev:CurrentTime>%s</tev:CurrentTime><tev:TerminationTime>%s</tev:TerminationTime>`, stamp(c.now()), stamp(exp))
	for _, m := range msgs {
		sb.WriteString(c.message(m, ""))
	}
	sb.WriteString(`</tev:PullMessagesResponse>`)
	return sb.String()
}

// message is ev as a wsnt:NotificationMessage, naming the subscription it
// is sent for when ref is set (pushed messages do).
func (c *ONVIFCamera) message(ev ONVIFEvent, ref string) string {
	if ref != "" {
		ref = `<wsnt:SubscriptionReference><wsa:Address>` + escape(ref) + `</wsa:Address></wsnt:SubscriptionReference>`
	}
	return fmt.Sprintf(`<wsnt:NotificationMessage>%s<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">%s</wsnt:Topic><wsnt:ProducerReference><wsa:Address>%s</wsa:Address></wsnt:ProducerReference><wsnt:Message><tt:Message UtcTime="%s" PropertyOperation="Changed"><tt:Source>%s</tt:Source><tt:Data>%s</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>`,
		ref, escape(ev.Topic), c.base()+"/onvif/events_service", stamp(ev.Time.Add(c.opt.Skew)), sortedItems(ev.Source), sortedItems(ev.Data))
}
