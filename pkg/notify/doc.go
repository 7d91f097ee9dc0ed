// Package notify tells the world outside the box what happened on it: the
// events of the event bus and the daemon's own state changes, sent as signed
// webhooks. Sending never blocks the bus or the media path: deliveries wait
// in a bounded queue that drops (and counts) its oldest entry when full.
package notify
