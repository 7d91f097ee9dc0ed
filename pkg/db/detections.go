package db

import (
	"context"
	"fmt"
)

// Detection is one row of detections: one thing a detector saw. The box is
// in fractions of the frame from its top-left corner.
type Detection struct {
	ID         int64
	StreamName string
	Timestamp  int64 // unix seconds
	Label      string
	Confidence float64
	X, Y       float64
	Width      float64
	Height     float64
	// RecordingID is the continuous recording the detection annotates, 0
	// for none.
	RecordingID int64
	TrackID     int    // -1: the detector does not track
	ZoneID      string // "" outside any zone
	// Source is "" for the built-in detectors and names the origin of an
	// external event ("api", "onvif"), as LightNVR stores it.
	Source string
	// EventEndTime is when the event ended; a point detection ends when it
	// starts.
	EventEndTime int64
}

// continuousRecordingAt is the continuous (scheduled) recording of a
// detection's stream that covers its time: the open segment or one that
// ended at or after it. Detection clips are not linked: they are the event.
const continuousRecordingAt = `(SELECT r.id FROM recordings r WHERE r.stream_name = ?1
	AND COALESCE(r.trigger_type, 'scheduled') = 'scheduled' AND r.start_time <= ?2
	AND (r.end_time IS NULL OR r.end_time >= ?2) ORDER BY r.start_time DESC, r.id DESC LIMIT 1)`

// InsertDetections stores rows in one transaction, linking each to the
// continuous recording its stream was writing at that time, if any
// (annotation mode). RecordingID of rows is ignored.
func InsertDetections(ctx context.Context, d *DB, rows []Detection) error {
	if len(rows) == 0 {
		return nil
	}
	err := d.inTx(ctx, func(q Querier) error {
		for _, r := range rows {
			if _, err := insert(ctx, q, `INSERT INTO detections (stream_name, timestamp, label, confidence,
				x, y, width, height, track_id, zone_id, source, event_end_time, recording_id)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, `+continuousRecordingAt+`)`,
				r.StreamName, r.Timestamp, r.Label, r.Confidence, r.X, r.Y, r.Width, r.Height,
				r.TrackID, r.ZoneID, r.Source, r.EventEndTime); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d detections: %w", len(rows), err)
	}
	return nil
}

var scanDetection = scanFields(func(r *Detection) []any {
	return []any{&r.ID, &r.StreamName, &r.Timestamp, &r.Label, &r.Confidence, &r.X, &r.Y, &r.Width, &r.Height,
		&r.RecordingID, &r.TrackID, &r.ZoneID, &r.Source, &r.EventEndTime}
})

// DetectionsBetween returns up to limit detections of stream whose time is
// within [from, to] (unix seconds), newest first.
func DetectionsBetween(ctx context.Context, q Querier, stream string, from, to int64, limit int) ([]Detection, error) {
	return queryAll(ctx, q, fmt.Sprintf("detections of %s", stream), scanDetection,
		`SELECT id, stream_name, timestamp, label, confidence, COALESCE(x, 0), COALESCE(y, 0),
		COALESCE(width, 0), COALESCE(height, 0), COALESCE(recording_id, 0), COALESCE(track_id, -1), COALESCE(zone_id, ''),
		source, COALESCE(event_end_time, timestamp)
		FROM detections WHERE stream_name = ? AND timestamp >= ? AND timestamp <= ?
		ORDER BY timestamp DESC, id DESC LIMIT ?`, stream, from, to, limit)
}

// DetectionLabels lists every label ever stored, in order.
func DetectionLabels(ctx context.Context, q Querier) ([]string, error) {
	return queryAll(ctx, q, "detection labels", scanOne[string],
		`SELECT DISTINCT label FROM detections WHERE label <> '' ORDER BY label`)
}
