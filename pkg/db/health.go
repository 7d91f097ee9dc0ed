package db

import (
	"context"
	"errors"
	"fmt"
)

// SQLiteVersion is the version of the SQLite library serving the database.
func (d *DB) SQLiteVersion(ctx context.Context) (string, error) {
	v, err := queryValue[string](ctx, d, `SELECT sqlite_version()`)
	if err != nil {
		return "", fmt.Errorf("sqlite version of %s: %w", d.path, err)
	}
	return v, nil
}

// CheckWritable proves that a write could be made now: it takes the write
// lock and makes a change SQLite treats as a write (the header's
// user_version, set to itself), then rolls it back, so nothing reaches the
// disk. A read-only file or file system, or a writer holding the lock for
// longer than ctx allows, is an error.
func (d *DB) CheckWritable(ctx context.Context) error {
	err := d.inTx(ctx, func(q Querier) error {
		v, err := queryValue[int64](ctx, q, `PRAGMA user_version`)
		if err != nil {
			return err
		}
		if _, err := exec(ctx, q, fmt.Sprintf(`PRAGMA user_version = %d`, v)); err != nil {
			return err
		}
		return errRollback
	})
	if err != nil && !errors.Is(err, errRollback) {
		return fmt.Errorf("database %s is not writable: %w", d.path, err)
	}
	return nil
}

// errRollback makes inTx roll back a transaction that only proved a write could be made.
var errRollback = errors.New("rollback")

// RecordingActivity is what one stream recorded since a moment.
type RecordingActivity struct {
	Segments int64 // recordings started
	Bytes    int64 // their size
	// Gaps counts the holes of more than the allowed gap between one
	// continuous recording's end and the next one's start: time the camera
	// was meant to be recorded and was not. Event clips are apart by design
	// and never count.
	Gaps int64
}

// RecordingActivitySince sums the recordings of every stream that started
// at or after since (Unix seconds); a gap is longer than gap seconds.
func RecordingActivitySince(ctx context.Context, q Querier, since, gap int64) (map[string]RecordingActivity, error) {
	type row struct {
		stream string
		RecordingActivity
	}
	rows, err := queryAll(ctx, q, "recording activity", scanFields(func(r *row) []any {
		return []any{&r.stream, &r.Segments, &r.Bytes, &r.Gaps}
	}), `WITH r AS (
		SELECT stream_name, COALESCE(size_bytes, 0) AS size,
			CASE WHEN COALESCE(trigger_type, 'scheduled') = 'scheduled'
				THEN start_time - lag(end_time) OVER (PARTITION BY stream_name, COALESCE(trigger_type, 'scheduled') = 'scheduled' ORDER BY start_time, id)
			END AS hole
		FROM recordings WHERE start_time >= ?)
		SELECT stream_name, count(*), COALESCE(sum(size), 0), COALESCE(sum(hole > ?), 0) FROM r GROUP BY stream_name`, since, gap)
	if err != nil {
		return nil, err
	}
	out := make(map[string]RecordingActivity, len(rows))
	for _, r := range rows {
		out[r.stream] = r.RecordingActivity
	}
	return out, nil
}
