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
}

const recordingColumns = `id, stream_name, file_path, start_time, COALESCE(end_time, 0), COALESCE(size_bytes, 0),
	COALESCE(width, 0), COALESCE(height, 0), COALESCE(fps, 0), COALESCE(codec, ''), COALESCE(is_complete, 0),
	COALESCE(trigger_type, 'scheduled'), COALESCE(protected, 0), COALESCE(created_at, 0)`

func scanRecording(sc interface{ Scan(...any) error }) (*Recording, error) {
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
	res, err := q.ExecContext(ctx, `INSERT INTO recordings
		(stream_name, file_path, start_time, size_bytes, width, height, fps, codec, is_complete, trigger_type)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
		r.StreamName, r.FilePath, r.StartTime, r.SizeBytes, r.Width, r.Height, r.FPS, r.Codec, trigger)
	if err != nil {
		return 0, fmt.Errorf("insert recording %s: %w", r.FilePath, err)
	}
	id, err := res.LastInsertId()
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
	res, err := q.ExecContext(ctx, `UPDATE recordings SET end_time = ?, size_bytes = ?, width = ?, height = ?,
		fps = ?, codec = ?, is_complete = 1 WHERE id = ?`,
		e.EndTime, e.SizeBytes, e.Width, e.Height, e.FPS, e.Codec, id)
	if err != nil {
		return fmt.Errorf("complete recording %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("complete recording %d: %w", id, ErrRecordingNotFound)
	}
	return nil
}

// GetRecording returns the recording with id.
func GetRecording(ctx context.Context, q Querier, id int64) (*Recording, error) {
	r, err := scanRecording(q.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("recording %d: %w", id, ErrRecordingNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("recording %d: %w", id, err)
	}
	return r, nil
}

func listRecordings(ctx context.Context, q Querier, query string, args ...any) ([]*Recording, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []*Recording
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, fmt.Errorf("list recordings: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	return out, nil
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
	parts := ix.Parts
	if parts == nil {
		parts = []byte{}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO recording_index
		(recording_id, start_us, duration_us, init_size, part_count, parts) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (recording_id) DO UPDATE SET start_us = excluded.start_us, duration_us = excluded.duration_us,
		init_size = excluded.init_size, part_count = excluded.part_count, parts = excluded.parts`,
		ix.RecordingID, ix.StartUS, ix.DurationUS, ix.InitSize, ix.PartCount, parts)
	if err != nil {
		return fmt.Errorf("put recording index %d: %w", ix.RecordingID, err)
	}
	return nil
}

// GetRecordingIndex returns the index of a recording, ErrRecordingNotFound
// if it has none.
func GetRecordingIndex(ctx context.Context, q Querier, id int64) (*RecordingIndex, error) {
	ix := &RecordingIndex{RecordingID: id}
	err := q.QueryRowContext(ctx, `SELECT start_us, duration_us, init_size, part_count, parts
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

// MoveRecordingToGarbage removes a recording's row (its index and tags go
// with it) and records its file as garbage, in one transaction.
func MoveRecordingToGarbage(ctx context.Context, d *DB, id int64) (*GarbageEntry, error) {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("garbage recording %d: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	g := &GarbageEntry{RecordingID: id}
	err = tx.QueryRowContext(ctx, `SELECT stream_name, file_path FROM recordings WHERE id = ?`, id).
		Scan(&g.StreamName, &g.FilePath)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("garbage recording %d: %w", id, ErrRecordingNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("garbage recording %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO recordings_garbage (recording_id, stream_name, file_path)
		VALUES (?, ?, ?)`, id, g.StreamName, g.FilePath); err != nil {
		return nil, fmt.Errorf("garbage recording %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("garbage recording %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("garbage recording %d: %w", id, err)
	}
	return g, nil
}

// Garbage returns every pending garbage row.
func Garbage(ctx context.Context, q Querier) ([]*GarbageEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT recording_id, stream_name, file_path FROM recordings_garbage
		ORDER BY recording_id`)
	if err != nil {
		return nil, fmt.Errorf("list garbage: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []*GarbageEntry
	for rows.Next() {
		g := &GarbageEntry{}
		if err := rows.Scan(&g.RecordingID, &g.StreamName, &g.FilePath); err != nil {
			return nil, fmt.Errorf("list garbage: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list garbage: %w", err)
	}
	return out, nil
}

// DeleteGarbage removes a garbage row once its file is gone.
func DeleteGarbage(ctx context.Context, q Querier, id int64) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM recordings_garbage WHERE recording_id = ?`, id); err != nil {
		return fmt.Errorf("delete garbage %d: %w", id, err)
	}
	return nil
}
