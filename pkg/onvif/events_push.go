package onvif

import (
	"context"
	"encoding/xml"
	"log/slog"
	"strings"
	"time"
)

// wsSubscribe is WS-BaseNotification's Subscribe: the camera pushes every
// event to the consumer address until the termination time.
type wsSubscribe struct {
	XMLName  xml.Name `xml:"wsnt:Subscribe"`
	NS       string   `xml:"xmlns:wsnt,attr"`
	NSAddr   string   `xml:"xmlns:wsa,attr"`
	Consumer string   `xml:"wsnt:ConsumerReference>wsa:Address"`
	Initial  string   `xml:"wsnt:InitialTerminationTime"`
}

const nsAddressing = "http://www.w3.org/2005/08/addressing"

// runPushed holds a Basic Notification subscription whose Notify messages
// reach us at a consumer address of our own: it renews the subscription at
// half its lifetime (a camera that rebooted has forgotten it, so the
// renewal fails and the session ends, to subscribe again) and unsubscribes
// when it ends.
func runPushed(ctx context.Context, opt EventOptions, dev *Device, log *slog.Logger) (progressed bool, err error) {
	if opt.Consumers == nil {
		return false, errNoConsumer
	}
	token, msgs, release := opt.Consumers.register()
	defer release()
	consumer, err := opt.Consumers.address(ctx, dev.Services.Events, token)
	if err != nil {
		return false, err
	}
	sub, err := subscribePushed(ctx, dev, consumer, opt.Lifetime)
	if err != nil {
		return false, err
	}
	log.Info("camera events subscribed (the camera pushes them)", "lifetime", sub.granted,
		"consumer", strings.TrimSuffix(consumer, token)+"…")
	defer sub.unsubscribe()
	renew := time.NewTimer(0)
	defer renew.Stop()
	for {
		renew.Reset(max(time.Until(sub.expires)-sub.granted/2, 0))
		select {
		case <-ctx.Done():
			return progressed, ctx.Err()
		case batch := <-msgs:
			progressed = true
			publish(opt, dev, batch, log)
		case <-renew.C:
			if err := sub.renew(ctx, opt.Lifetime); err != nil {
				return progressed, err
			}
			progressed = true
		}
	}
}

func subscribePushed(ctx context.Context, dev *Device, consumer string, lifetime time.Duration) (*subscription, error) {
	req := wsSubscribe{NS: nsNotification, NSAddr: nsAddressing, Consumer: consumer, Initial: xsdDuration(lifetime)}
	return openSubscription(ctx, dev, "subscribe", req, lifetime)
}
