package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrRecordingNotFound is returned when no recordings row has the id.
var ErrRecordingNotFound = errors.New("recording not found")

// Recording is one row of recordings. EndTime 0 stands for NULL (still
// being written).
type Recording struct {
	ID          int64
	StreamName  string
	FilePath    string
	StartTime   int64 // unix seconds
	EndTime     int64
	SizeBytes   int64
	Width       int
	Height      int
	FPS         int
	Codec       string
	IsComplete  bool
	TriggerType string
	Protected   bool
	CreatedAt   int64
	// ScheduleRestricted is written by InsertRecording only: whether the
	// file was recorded under a recording schedule; nil stores NULL (not
	// known, as for an adopted orphan file).
	ScheduleRestricted *bool
}

const recordingColumns = `id, stream_name, file_path, start_time, COALESCE(end_time, 0), COALESCE(size_bytes, 0),
	COALESCE(width, 0), COALESCE(height, 0), COALESCE(fps, 0), COALESCE(codec, ''), COALESCE(is_complete, 0),
	COALESCE(trigger_type, 'scheduled'), COALESCE(protected, 0), COALESCE(created_at, 0)`

func scanRecording(sc rowScanner) (*Recording, error) {
	r := &Recording{}
	err := sc.Scan(&r.ID, &r.StreamName, &r.FilePath, &r.StartTime, &r.EndTime, &r.SizeBytes,
		&r.Width, &r.Height, &r.FPS, &r.Codec, &r.IsComplete, &r.TriggerType, &r.Protected, &r.CreatedAt)
	return r, err
}

// InsertRecording inserts r as an incomplete recording and returns its id.
func InsertRecording(ctx context.Context, q Querier, r *Recording) (int64, error) {
	trigger := r.TriggerType
	if trigger == "" {
		trigger = "scheduled"
	}
	id, err := insert(ctx, q, `INSERT INTO recordings
		(stream_name, file_path, start_time, size_bytes, width, height, fps, codec, is_complete, trigger_type,
		schedule_restricted)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		r.StreamName, r.FilePath, r.StartTime, r.SizeBytes, r.Width, r.Height, r.FPS, r.Codec, trigger,
		r.ScheduleRestricted)
	if err != nil {
		return 0, fmt.Errorf("insert recording %s: %w", r.FilePath, err)
	}
	return id, nil
}

// RecordingEnd is what is known of a recording once its file is closed.
type RecordingEnd struct {
	EndTime   int64
	SizeBytes int64
	Width     int
	Height    int
	FPS       int
	Codec     string
}

// CompleteRecording stores e and marks the recording complete.
func CompleteRecording(ctx context.Context, q Querier, id int64, e RecordingEnd) error {
	n, err := exec(ctx, q, `UPDATE recordings SET end_time = ?, size_bytes = ?, width = ?, height = ?,
		fps = ?, codec = ?, is_complete = 1 WHERE id = ?`,
		e.EndTime, e.SizeBytes, e.Width, e.Height, e.FPS, e.Codec, id)
	if err != nil {
		return fmt.Errorf("complete recording %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("complete recording %d: %w", id, ErrRecordingNotFound)
	}
	return nil
}

// FinishRecording stores a recording's part index and marks it complete
// with e, in one transaction: a complete row always has its index.
func FinishRecording(ctx context.Context, d *DB, ix *RecordingIndex, e RecordingEnd) error {
	err := d.inTx(ctx, func(q Querier) error {
		if err := PutRecordingIndex(ctx, q, ix); err != nil {
			return err
		}
		return CompleteRecording(ctx, q, ix.RecordingID, e)
	})
	if err != nil {
		return fmt.Errorf("finish recording %d: %w", ix.RecordingID, err)
	}
	return nil
}

// DeleteRecording removes a recording's row (its index and tags go with
// it) without touching its file: for a row whose file is already gone or
// was never written. Rows with a file are deleted through the garbage
// table (MoveDeletableToGarbage).
func DeleteRecording(ctx context.Context, q Querier, id int64) error {
	n, err := exec(ctx, q, `DELETE FROM recordings WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete recording %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete recording %d: %w", id, ErrRecordingNotFound)
	}
	return nil
}

// GetRecording returns the recording with id.
func GetRecording(ctx context.Context, q Querier, id int64) (*Recording, error) {
	return queryRow(ctx, q, scanRecording, fmt.Sprintf("recording %d", id), ErrRecordingNotFound,
		`SELECT `+recordingColumns+` FROM recordings WHERE id = ?`, id)
}

func listRecordings(ctx context.Context, q Querier, query string, args ...any) ([]*Recording, error) {
	return queryAll(ctx, q, "list recordings", scanRecording, query, args...)
}

// IncompleteRecordings returns every row not marked complete, oldest first.
func IncompleteRecordings(ctx context.Context, q Querier) ([]*Recording, error) {
	return listRecordings(ctx, q, `SELECT `+recordingColumns+` FROM recordings
		WHERE COALESCE(is_complete, 0) = 0 ORDER BY id`)
}

// StreamRecordings returns the recordings of one stream in start order.
func StreamRecordings(ctx context.Context, q Querier, stream string) ([]*Recording, error) {
	return listRecordings(ctx, q, `SELECT `+recordingColumns+` FROM recordings
		WHERE stream_name = ? ORDER BY start_time, id`, stream)
}

// RecordingIndex is one row of recording_index (see migration 0110).
type RecordingIndex struct {
	RecordingID int64
	StartUS     int64
	DurationUS  int64
	InitSize    int64
	PartCount   int
	Parts       []byte
}

// PutRecordingIndex inserts or replaces the index of a recording.
func PutRecordingIndex(ctx context.Context, q Querier, ix *RecordingIndex) error {
	return putIndex(ctx, q, `INSERT INTO recording_index
		(recording_id, start_us, duration_us, init_size, part_count, parts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (recording_id) DO UPDATE SET start_us = excluded.start_us, duration_us = excluded.duration_us,
		init_size = excluded.init_size, part_count = excluded.part_count, parts = excluded.parts`, ix)
}

// PutOpenRecordingIndexes writes the indexes of recordings still being
// written, all in one transaction. A recording completed or deleted
// meanwhile is skipped, and an index never replaces one with more parts:
// what FinishRecording or recovery wrote stays.
func PutOpenRecordingIndexes(ctx context.Context, d *DB, ixs []*RecordingIndex) error {
	return d.inTx(ctx, func(q Querier) error {
		for _, ix := range ixs {
			err := putIndex(ctx, q, `INSERT INTO recording_index
				(recording_id, start_us, duration_us, init_size, part_count, parts)
				SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS
					(SELECT 1 FROM recordings WHERE id = ?1 AND COALESCE(is_complete, 0) = 0)
				ON CONFLICT (recording_id) DO UPDATE SET start_us = excluded.start_us,
					duration_us = excluded.duration_us, init_size = excluded.init_size,
					part_count = excluded.part_count, parts = excluded.parts
				WHERE excluded.part_count > recording_index.part_count`, ix)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// putIndex runs query, an upsert of recording_index taking the index's
// columns as ?1 to ?6.
func putIndex(ctx context.Context, q Querier, query string, ix *RecordingIndex) error {
	parts := ix.Parts
	if parts == nil {
		parts = []byte{}
	}
	_, err := q.conn().ExecContext(ctx, query, ix.RecordingID, ix.StartUS, ix.DurationUS, ix.InitSize, ix.PartCount, parts)
	if err != nil {
		return fmt.Errorf("put recording index %d: %w", ix.RecordingID, err)
	}
	return nil
}

// GetRecordingIndex returns the index of a recording, ErrRecordingNotFound
// if it has none.
func GetRecordingIndex(ctx context.Context, q Querier, id int64) (*RecordingIndex, error) {
	ix := &RecordingIndex{RecordingID: id}
	err := q.conn().QueryRowContext(ctx, `SELECT start_us, duration_us, init_size, part_count, parts
		FROM recording_index WHERE recording_id = ?`, id).
		Scan(&ix.StartUS, &ix.DurationUS, &ix.InitSize, &ix.PartCount, &ix.Parts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("recording index %d: %w", id, ErrRecordingNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("recording index %d: %w", id, err)
	}
	return ix, nil
}

// GarbageEntry is one row of recordings_garbage.
type GarbageEntry struct {
	RecordingID int64
	StreamName  string
	FilePath    string
}

// Garbage returns every pending garbage row.
func Garbage(ctx context.Context, q Querier) ([]GarbageEntry, error) {
	return queryAll(ctx, q, "list garbage", scanFields(func(g *GarbageEntry) []any {
		return []any{&g.RecordingID, &g.StreamName, &g.FilePath}
	}), `SELECT recording_id, stream_name, file_path FROM recordings_garbage ORDER BY recording_id`)
}

// IndexedRecording is a recording's file with its part index.
type IndexedRecording struct {
	FilePath string
	Index    RecordingIndex
}

// IndexedRecordingsBetween returns the recordings of stream whose part
// index overlaps [fromUS, toUS) (unix microseconds), in start order. Rows
// without an index (a segment before its first part) are left out; a
// segment still being written comes with the parts indexed so far.
func IndexedRecordingsBetween(ctx context.Context, q Querier, stream string, fromUS, toUS int64) ([]IndexedRecording, error) {
	// The start_time bound lets the stream_name and start_time indexes narrow the
	// scan before the exact microsecond test.
	return queryAll(ctx, q, "indexed recordings", scanFields(func(r *IndexedRecording) []any {
		ix := &r.Index
		return []any{&ix.RecordingID, &r.FilePath, &ix.StartUS, &ix.DurationUS, &ix.InitSize, &ix.PartCount, &ix.Parts}
	}), `SELECT r.id, r.file_path, i.start_us, i.duration_us, i.init_size, i.part_count, i.parts
		FROM recordings r JOIN recording_index i ON i.recording_id = r.id
		WHERE r.stream_name = ? AND r.start_time <= ? AND i.part_count > 0
		AND i.start_us < ? AND i.start_us + i.duration_us > ?
		ORDER BY i.start_us, r.id`, stream, toUS/1_000_000, toUS, fromUS)
}
