// Package detect turns what a stream shows into events on the event bus:
// motion read from the compressed stream (no decoding), the external HTTP
// detector, and the zones and class filters that decide which detections
// count.
//
// Every detector publishes event.Event values and nothing else; acting on
// them (clips, the detections table, notifications, the live feed) is the
// business of the bus's subscribers. A detector never blocks the media hub
// it reads from: it owns one bounded subscription and loses units, not
// time, when it falls behind.
package detect
