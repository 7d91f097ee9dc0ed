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
	return d.inTx(ctx, func(q Querier) error { return finishRecording(ctx, q, ix, e) })
}

// finishRecording marks the row complete first: a row deleted meanwhile
// then fails as ErrRecordingNotFound, not as the index's foreign key.
func finishRecording(ctx context.Context, q Querier, ix *RecordingIndex, e RecordingEnd) error {
	if err := CompleteRecording(ctx, q, ix.RecordingID, e); err != nil {
		return fmt.Errorf("finish recording %d: %w", ix.RecordingID, err)
	}
	if err := PutRecordingIndex(ctx, q, ix); err != nil {
		return fmt.Errorf("finish recording %d: %w", ix.RecordingID, err)
	}
	return nil
}

// RecordingWrites is one group commit of the recorders' writes: rows of
// new segments, segments completed and the indexes of open ones. See
// WriteRecordings.
type RecordingWrites struct {
	Insert []RecordingInsert
	Finish []RecordingFinish
	// Open are indexes of recordings still being written: one whose
	// recording was completed or deleted meanwhile, or that has fewer
	// parts than the saved one, is skipped.
	Open []*RecordingIndex
}

// RecordingInsert is a new incomplete row (InsertRecording). Rec.ID is set
// once it is written; Err is why it was not.
type RecordingInsert struct {
	Rec *Recording
	Err error
}

// RecordingFinish is a recording's final index and end (FinishRecording);
// Err is why it was not written.
type RecordingFinish struct {
	Index *RecordingIndex
	End   RecordingEnd
	Err   error
}

// WriteRecordings writes w in one transaction, so one commit (one disk
// sync with synchronous=FULL) serves every recorder whose writes are in it.
// Each insert and finish is undone alone when it fails (a row deleted
// meanwhile, say) and its Err says why; the others still commit. When
// WriteRecordings returns an error, nothing of w was written and every
// item's outcome is that error.
func WriteRecordings(ctx context.Context, d *DB, w *RecordingWrites) error {
	err := d.inTx(ctx, func(q Querier) error {
		for i := range w.Insert {
			it := &w.Insert[i]
			err := savepoint(ctx, q, &it.Err, func() error {
				id, err := InsertRecording(ctx, q, it.Rec)
				if err == nil {
					it.Rec.ID = id
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		for i := range w.Finish {
			it := &w.Finish[i]
			err := savepoint(ctx, q, &it.Err, func() error { return finishRecording(ctx, q, it.Index, it.End) })
			if err != nil {
				return err
			}
		}
		for _, ix := range w.Open {
			if err := putOpenIndex(ctx, q, ix); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := range w.Insert {
			w.Insert[i].Rec.ID = 0
		}
		return fmt.Errorf("write recordings: %w", err)
	}
	return nil
}

// savepoint runs fn so that its failure undoes its own writes only, and
// stores fn's error in itemErr. It returns an error of the transaction
// itself (the savepoint could not be set, rolled back to or released),
// after which the transaction must not go on: SQLite may have rolled all
// of it back already.
func savepoint(ctx context.Context, q Querier, itemErr *error, fn func() error) error {
	if _, err := q.conn().ExecContext(ctx, `SAVEPOINT item`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	*itemErr = fn()
	if *itemErr != nil {
		if _, err := q.conn().ExecContext(ctx, `ROLLBACK TO item`); err != nil {
			return fmt.Errorf("roll back to savepoint after %v: %w", *itemErr, err)
		}
	}
	if _, err := q.conn().ExecContext(ctx, `RELEASE item`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
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

// putOpenIndex writes the index of a recording still being written. A
// recording completed or deleted meanwhile is skipped, and an index never
// replaces one with more parts: what FinishRecording or recovery wrote
// stays.
func putOpenIndex(ctx context.Context, q Querier, ix *RecordingIndex) error {
	return putIndex(ctx, q, `INSERT INTO recording_index
		(recording_id, start_us, duration_us, init_size, part_count, parts)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS
			(SELECT 1 FROM recordings WHERE id = ?1 AND COALESCE(is_complete, 0) = 0)
		ON CONFLICT (recording_id) DO UPDATE SET start_us = excluded.start_us,
			duration_us = excluded.duration_us, init_size = excluded.init_size,
			part_count = excluded.part_count, parts = excluded.parts
		WHERE excluded.part_count > recording_index.part_count`, ix)
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
