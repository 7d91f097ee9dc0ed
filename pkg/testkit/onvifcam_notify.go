package testkit

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// NotifyBody is the Notify a Basic Notification subscription id of the
// device pushes for ev: a SOAP 1.2 envelope with WS-Addressing headers, as
// cameras send it.
func (c *ONVIFCamera) NotifyBody(id, consumer string, ev ONVIFEvent) []byte {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env=%q xmlns:tt=%q xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tns1="http://www.onvif.org/ver10/topics"><env:Header><wsa:Action>http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify</wsa:Action><wsa:To>%s</wsa:To></env:Header><env:Body><wsnt:Notify>%s</wsnt:Notify></env:Body></env:Envelope>`,
		nsEnv, nsTT, escape(consumer), c.message(ev, c.subAddress(id)))
}

// Consumers lists the consumer addresses of the live pushed subscriptions.
func (c *ONVIFCamera) Consumers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.subs {
		if s.consumer != "" && c.now().Before(s.expires) {
			out = append(out, s.consumer)
		}
	}
	return out
}

var notifyClient = &http.Client{Timeout: 5 * time.Second}

// push posts ev to subscription id's consumer.
func (c *ONVIFCamera) push(id string, ev ONVIFEvent) error {
	c.mu.Lock()
	s := c.subs[id]
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("no subscription %s", id)
	}
	res, err := notifyClient.Post(s.consumer, "application/soap+xml; charset=utf-8", bytes.NewReader(c.NotifyBody(id, s.consumer, ev)))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("consumer answered %s", res.Status)
	}
	return nil
}
