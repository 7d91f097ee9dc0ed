// Package notify tells the outside world what the NVR sees: detections,
// stream and recording state and disk pressure, over MQTT (LightNVR's topics,
// Home Assistant discovery and, switchable, Frigate's contract) and webhooks.
//
// Every notifier subscribes to the one event bus (pkg/event) and to the
// daemon's state reports; none of them ever blocks its producer. A notifier
// keeps what it could not deliver yet in a bounded queue, drops the oldest
// past the bound and counts the loss, so a broker or receiver that is away
// costs memory up to the bound and nothing more.
package notify
