package db

import (
	"context"
	"fmt"
	"strings"
)

// Queries behind retention, quotas, eviction and storage statistics. The
// rules (which rows, how many, in what order of passes) live in
// pkg/storage; these only fetch and change rows.

// StoredRecording is the part of a recordings row that retention needs.
type StoredRecording struct {
	ID         int64
	StreamName string
	FilePath   string
	SizeBytes  int64
	StartTime  int64
	Tier       int
	Protected  bool
}

const storedColumns = `id, stream_name, file_path, COALESCE(size_bytes, 0), start_time,
	COALESCE(retention_tier, 2), COALESCE(protected, 0)`

var scanStored = scanFields(func(s *StoredRecording) []any {
	return []any{&s.ID, &s.StreamName, &s.FilePath, &s.SizeBytes, &s.StartTime, &s.Tier, &s.Protected}
})

// RecordedStreams returns every stream name that has recordings, including
// streams deleted since.
func RecordedStreams(ctx context.Context, q Querier) ([]string, error) {
	return queryAll(ctx, q, "recorded streams", scanOne[string], `SELECT DISTINCT stream_name FROM recordings`)
}

// ExpiredRecordings returns up to limit complete, unprotected recordings of
// stream that started before cutoff, oldest first, whose per-recording
// override (retention_override_days) does not keep them: NULL or negative
// means none, 0 keeps forever, N keeps until start + N days > now. When
// detection is true only trigger types detection and motion are returned,
// otherwise only the others. tier ≥ 0 returns only that retention tier.
func ExpiredRecordings(ctx context.Context, q Querier, stream string, cutoff, now int64, detection bool, tier, limit int) ([]StoredRecording, error) {
	return queryAll(ctx, q, fmt.Sprintf("expired recordings of %s", stream), scanStored, `SELECT `+storedColumns+` FROM recordings
		WHERE is_complete = 1 AND stream_name = ? AND start_time < ? AND COALESCE(protected, 0) = 0
		AND (COALESCE(trigger_type, 'scheduled') IN ('detection', 'motion')) = ?
		AND (? < 0 OR COALESCE(retention_tier, 2) = ?)
		AND (retention_override_days IS NULL OR retention_override_days < 0
			OR (retention_override_days > 0 AND start_time + retention_override_days * 86400 < ?))
		ORDER BY start_time, id LIMIT ?`, stream, cutoff, detection, tier, tier, now, limit)
}

// EvictableRecordings returns up to limit recordings that may be deleted to
// make room: complete, unprotected and disk_pressure_eligible. With stream
// "" it is the whole disk, most expendable tier first (retention_tier
// descending) then oldest; with a stream, that stream's oldest.
func EvictableRecordings(ctx context.Context, q Querier, stream string, limit int) ([]StoredRecording, error) {
	if stream == "" {
		// The WHERE terms repeat the partial index's (migration 0120) so
		// SQLite reads the index in order and stops after limit rows.
		return queryAll(ctx, q, "evictable recordings", scanStored, `SELECT `+storedColumns+` FROM recordings
			WHERE is_complete = 1 AND protected = 0 AND disk_pressure_eligible = 1
			ORDER BY retention_tier DESC, start_time LIMIT ?`, limit)
	}
	return queryAll(ctx, q, "evictable recordings", scanStored, `SELECT `+storedColumns+` FROM recordings
		WHERE is_complete = 1 AND stream_name = ? AND protected = 0 AND disk_pressure_eligible = 1
		ORDER BY start_time, id LIMIT ?`, stream, limit)
}

// ofStream extends where (a WHERE clause or "") to the recordings of
// stream; "" is every stream.
func ofStream(where, stream string) (string, []any) {
	if stream == "" {
		return where, nil
	}
	if where == "" {
		return " WHERE stream_name = ?", []any{stream}
	}
	return where + " AND stream_name = ?", []any{stream}
}

// Usage is a count of recordings and their bytes.
type Usage struct {
	StreamName string
	Tier       int // UsageByStream only
	Count      int64
	Bytes      int64
	Protected  int64
}

// StreamUsage returns the recordings and bytes of one stream ("" = all).
func StreamUsage(ctx context.Context, q Querier, stream string) (Usage, error) {
	u := Usage{StreamName: stream}
	where, args := ofStream("", stream)
	err := q.conn().QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(size_bytes), 0) FROM recordings`+where, args...).
		Scan(&u.Count, &u.Bytes)
	if err != nil {
		return u, fmt.Errorf("usage of %q: %w", stream, err)
	}
	return u, nil
}

// UsageByStream returns count, bytes and protected count per stream name
// and retention tier.
func UsageByStream(ctx context.Context, q Querier) ([]Usage, error) {
	return queryAll(ctx, q, "usage by stream", scanFields(func(u *Usage) []any { return []any{&u.StreamName, &u.Tier, &u.Count, &u.Bytes, &u.Protected} }), `SELECT stream_name, COALESCE(retention_tier, 2), count(*), COALESCE(sum(size_bytes), 0),
		COALESCE(sum(COALESCE(protected, 0) != 0), 0) FROM recordings GROUP BY 1, 2 ORDER BY 1, 2`)
}

// RecordingIDRange returns the smallest and largest recordings id (0, 0
// when the table is empty).
func RecordingIDRange(ctx context.Context, q Querier) (lo, hi int64, err error) {
	err = q.conn().QueryRowContext(ctx, `SELECT COALESCE(min(id), 0), COALESCE(max(id), 0) FROM recordings`).Scan(&lo, &hi)
	if err != nil {
		return 0, 0, fmt.Errorf("recording id range: %w", err)
	}
	return lo, hi, nil
}

// CompleteRecordingsFrom returns up to limit complete recordings with
// id > after, in id order.
func CompleteRecordingsFrom(ctx context.Context, q Querier, after int64, limit int) ([]StoredRecording, error) {
	return queryAll(ctx, q, fmt.Sprintf("recordings after %d", after), scanStored, `SELECT `+storedColumns+` FROM recordings
		WHERE id > ? AND +is_complete = 1 ORDER BY id LIMIT ?`, after, limit)
}

// The unary + on is_complete below keeps SQLite on the rowid (an index on
// is_complete would make it scan and sort the table).

// SampleRecordings returns, for each id of from, the first complete
// recording with an id at or above it, in one query.
func SampleRecordings(ctx context.Context, q Querier, from []int64) ([]StoredRecording, error) {
	if len(from) == 0 {
		return nil, nil
	}
	parts := make([]string, len(from))
	args := make([]any, len(from))
	for i, id := range from {
		parts[i] = `SELECT * FROM (SELECT ` + storedColumns + ` FROM recordings WHERE id >= ? AND +is_complete = 1 ORDER BY id LIMIT 1)`
		args[i] = id
	}
	return queryAll(ctx, q, "sample recordings", scanStored, strings.Join(parts, " UNION ALL "), args...)
}

// RecordingPathKnown reports whether path is the file of a recording or of
// a pending deletion.
func RecordingPathKnown(ctx context.Context, q Querier, path string) (bool, error) {
	var n int
	err := q.conn().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM recordings WHERE file_path = ?)
		OR EXISTS (SELECT 1 FROM recordings_garbage WHERE file_path = ?)`, path, path).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", path, err)
	}
	return n != 0, nil
}

// InsertCompleteRecording inserts a finished recording (one found on disk)
// and returns its id.
func InsertCompleteRecording(ctx context.Context, q Querier, r *Recording) (int64, error) {
	trigger := r.TriggerType
	if trigger == "" {
		trigger = "scheduled"
	}
	tier := 2
	if trigger == "detection" {
		tier = 1
	}
	id, err := insert(ctx, q, `INSERT INTO recordings
		(stream_name, file_path, start_time, end_time, size_bytes, codec, is_complete, trigger_type, retention_tier)
		VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		r.StreamName, r.FilePath, r.StartTime, r.EndTime, r.SizeBytes, r.Codec, trigger, tier)
	if err != nil {
		return 0, fmt.Errorf("insert recording %s: %w", r.FilePath, err)
	}
	return id, nil
}

// DeletedRecording is a recording moved to recordings_garbage.
type DeletedRecording struct {
	GarbageEntry
	SizeBytes int64
	StartTime int64
	Tier      int
}

// MoveDeletableToGarbage moves the rows among ids that are still complete
// and unprotected to recordings_garbage, in one transaction, and returns
// them. A row protected (or reopened) since it was chosen stays. See
// migration 0110 for the protocol that follows: unlink, sync the
// directory, DeleteGarbageEntries.
func MoveDeletableToGarbage(ctx context.Context, d *DB, ids []int64) ([]DeletedRecording, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := anyOf(ids)
	guard := ` FROM recordings WHERE id IN (` + in + `) AND +is_complete = 1 AND COALESCE(protected, 0) = 0`
	var out []DeletedRecording
	err := d.inTx(ctx, func(q Querier) error {
		var err error
		out, err = queryAll(ctx, q, "read deletable", scanFields(func(g *DeletedRecording) []any {
			return []any{&g.RecordingID, &g.StreamName, &g.FilePath, &g.SizeBytes, &g.StartTime, &g.Tier}
		}), `SELECT id, stream_name, file_path, COALESCE(size_bytes, 0), start_time, COALESCE(retention_tier, 2)`+guard, args...)
		if err != nil || len(out) == 0 {
			return err
		}
		if _, err := exec(ctx, q, `INSERT OR REPLACE INTO recordings_garbage (recording_id, stream_name, file_path)
			SELECT id, stream_name, file_path`+guard, args...); err != nil {
			return err
		}
		_, err = exec(ctx, q, `DELETE`+guard, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("garbage recordings: %w", err)
	}
	return out, nil
}

// DeleteGarbageEntries removes garbage rows whose files are gone.
func DeleteGarbageEntries(ctx context.Context, q Querier, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := anyOf(ids)
	if _, err := q.conn().ExecContext(ctx, `DELETE FROM recordings_garbage WHERE recording_id IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("delete garbage: %w", err)
	}
	return nil
}

// SetRecordingProtected sets protected and disk_pressure_eligible (its
// opposite, as LightNVR's migration 0043 keeps them) of the given ids and
// returns how many rows exist among them.
func SetRecordingProtected(ctx context.Context, q Querier, ids []int64, protected bool) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	in, args := anyOf(ids)
	args = append([]any{protected, !protected}, args...)
	n, err := exec(ctx, q, `UPDATE recordings SET protected = ?, disk_pressure_eligible = ? WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("protect recordings: %w", err)
	}
	return n, nil
}

// SetRecordingRetentionOverride sets retention_override_days of a recording;
// nil clears it.
func SetRecordingRetentionOverride(ctx context.Context, q Querier, id int64, days *int) error {
	var v any
	if days != nil {
		v = *days
	}
	n, err := exec(ctx, q, `UPDATE recordings SET retention_override_days = ? WHERE id = ?`, v, id)
	if err != nil {
		return fmt.Errorf("set retention of recording %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("recording %d: %w", id, ErrRecordingNotFound)
	}
	return nil
}

// CountProtected returns the number of protected recordings (of stream, or
// all when stream is "").
func CountProtected(ctx context.Context, q Querier, stream string) (int64, error) {
	where, args := ofStream(" WHERE protected = 1", stream)
	n, err := queryValue[int64](ctx, q, `SELECT count(*) FROM recordings`+where, args...)
	if err != nil {
		return 0, fmt.Errorf("count protected: %w", err)
	}
	return n, nil
}

// DailyStat is one row of storage_daily_stats.
type DailyStat struct {
	Date           string // YYYY-MM-DD
	StreamName     string
	Tier           int
	RecordingCount int64
	TotalBytes     int64
	DeletedCount   int64
	DeletedBytes   int64
}

// ensureDailyStat creates the (date, stream, tier) row if missing.
func ensureDailyStat(ctx context.Context, q Querier, date, stream string, tier int) error {
	_, err := q.conn().ExecContext(ctx, `INSERT INTO storage_daily_stats (date, stream_name, tier)
		SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM storage_daily_stats WHERE date = ? AND stream_name = ? AND tier = ?)`,
		date, stream, tier, date, stream, tier)
	return err
}

// SetDailyUsage stores the recording count and bytes of a stream on date.
func SetDailyUsage(ctx context.Context, q Querier, date, stream string, tier int, count, bytes int64) error {
	return updateDailyStat(ctx, q, date, stream, tier, `recording_count = ?, total_bytes = ?`, count, bytes)
}

// AddDailyDeleted adds deletions to a stream's row of date.
func AddDailyDeleted(ctx context.Context, q Querier, date, stream string, tier int, count, bytes int64) error {
	return updateDailyStat(ctx, q, date, stream, tier, `deleted_count = deleted_count + ?, deleted_bytes = deleted_bytes + ?`, count, bytes)
}

// updateDailyStat applies set (count, then bytes) to the (date, stream, tier)
// row, creating it first.
func updateDailyStat(ctx context.Context, q Querier, date, stream string, tier int, set string, count, bytes int64) error {
	if err := ensureDailyStat(ctx, q, date, stream, tier); err != nil {
		return fmt.Errorf("daily stats %s %s: %w", date, stream, err)
	}
	if _, err := q.conn().ExecContext(ctx, `UPDATE storage_daily_stats SET `+set+`
		WHERE date = ? AND stream_name = ? AND tier = ?`, count, bytes, date, stream, tier); err != nil {
		return fmt.Errorf("daily stats %s %s: %w", date, stream, err)
	}
	return nil
}

// DailyStats returns the rows dated on or after since (YYYY-MM-DD), by date
// then stream.
func DailyStats(ctx context.Context, q Querier, since string) ([]DailyStat, error) {
	return queryAll(ctx, q, "daily stats", scanFields(func(s *DailyStat) []any {
		return []any{&s.Date, &s.StreamName, &s.Tier, &s.RecordingCount, &s.TotalBytes, &s.DeletedCount, &s.DeletedBytes}
	}), `SELECT date, stream_name, tier, sum(recording_count), sum(total_bytes),
		sum(deleted_count), sum(deleted_bytes) FROM storage_daily_stats WHERE date >= ?
		GROUP BY date, stream_name, tier ORDER BY date, stream_name, tier`, since)
}

// RecordingByPath returns the recording whose file is path;
// ErrRecordingNotFound when none.
func RecordingByPath(ctx context.Context, q Querier, path string) (StoredRecording, error) {
	rows, err := queryAll(ctx, q, "recording of "+path, scanStored, `SELECT `+storedColumns+` FROM recordings
		WHERE file_path = ? LIMIT 1`, path)
	if err != nil {
		return StoredRecording{}, err
	}
	if len(rows) == 0 {
		return StoredRecording{}, fmt.Errorf("file %s: %w", path, ErrRecordingNotFound)
	}
	return rows[0], nil
}

// SetRecordingSize corrects the size of a complete recording.
func SetRecordingSize(ctx context.Context, q Querier, id, size int64) error {
	if _, err := q.conn().ExecContext(ctx, `UPDATE recordings SET size_bytes = ? WHERE id = ? AND is_complete = 1`, size, id); err != nil {
		return fmt.Errorf("set size of recording %d: %w", id, err)
	}
	return nil
}
