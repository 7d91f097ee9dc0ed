package db

import (
	"context"
	"fmt"
)

// Queries behind the timeline: which recordings cover a span of time and
// where the detections in it lie. Both read rows and the part index only;
// no recording file is opened.

// MaxSegmentSeconds is the longest a recording may last (the largest
// segment_duration a stream accepts): a recording overlapping a span
// starts at most this long before it, which bounds the index range read.
const MaxSegmentSeconds = 86400

// TimelineSegment is a recording as the timeline draws it. Indexed says
// the part index has the recording: StartUS and DurationUS are then its
// exact extent (a recording still being written has no index yet).
type TimelineSegment struct {
	RecordingItem
	Indexed    bool
	StartUS    int64
	DurationUS int64
}

const timelineSelect = `SELECT ` + recordingItemColumns + `, ix.recording_id IS NOT NULL,
	COALESCE(ix.start_us, 0), COALESCE(ix.duration_us, 0)
	FROM recordings r LEFT JOIN recording_index ix ON ix.recording_id = r.id`

// withExtra scans a row's leading columns into what a scanner of the plain
// row asks for and its trailing columns into extra.
type withExtra struct {
	rowScanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.rowScanner.Scan(append(dest, w.extra...)...) }

func scanTimelineSegment(sc rowScanner) (*TimelineSegment, error) {
	s := &TimelineSegment{}
	it, err := scanRecordingItem(withExtra{sc, []any{&s.Indexed, &s.StartUS, &s.DurationUS}})
	if err != nil {
		return nil, err
	}
	s.RecordingItem = *it
	return s, nil
}

// TimelineSegments returns up to limit recordings of stream that overlap
// [from, to] (unix seconds), in start order. A recording still being
// written reaches up to now.
func TimelineSegments(ctx context.Context, q Querier, stream string, from, to, now int64, limit int) ([]*TimelineSegment, error) {
	out, err := queryAll(ctx, q, fmt.Sprintf("timeline of %s", stream), scanTimelineSegment, timelineSelect+`
		WHERE r.stream_name = ? AND r.start_time >= ? AND r.start_time <= ?
		AND COALESCE(r.end_time, CASE WHEN COALESCE(r.is_complete, 0) = 0 THEN ? ELSE r.start_time END) >= ?
		ORDER BY r.start_time, r.id LIMIT ?`,
		stream, from-MaxSegmentSeconds, to, now, from, limit)
	if err != nil {
		return nil, err
	}
	return nonNil(out), nil
}

// TimelineSegmentsOf returns the recordings f selects, in start order. f
// must select by IDs: without them it selects nothing.
func TimelineSegmentsOf(ctx context.Context, q Querier, f RecordingFilter) ([]*TimelineSegment, error) {
	if len(f.IDs) == 0 {
		return []*TimelineSegment{}, nil
	}
	where, args := f.where()
	out, err := queryAll(ctx, q, "timeline by ids", scanTimelineSegment, timelineSelect+where+` ORDER BY r.start_time, r.id`, args...)
	if err != nil {
		return nil, err
	}
	return nonNil(out), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Span is a stretch of time in unix seconds, both ends included.
type Span struct {
	Start, End int64
}

// DetectionSpans returns when stream's detections within [from, to]
// happened, in start order: one span per detection, from its time to the
// end of its event (a point detection ends when it starts). Events are
// looked for up to MaxSegmentSeconds before from.
func DetectionSpans(ctx context.Context, q Querier, stream string, from, to int64) ([]Span, error) {
	return queryAll(ctx, q, fmt.Sprintf("detection spans of %s", stream), scanFields(func(s *Span) []any {
		return []any{&s.Start, &s.End}
	}), `SELECT timestamp, MAX(COALESCE(event_end_time, timestamp), timestamp) FROM detections
		WHERE stream_name = ? AND timestamp >= ? AND timestamp <= ? AND COALESCE(event_end_time, timestamp) >= ?
		ORDER BY timestamp`, stream, from-MaxSegmentSeconds, to, from)
}
