package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Queries behind the recordings API: filtered, sorted, paginated lists and
// their counts. Which filters a request may use and what they mean to a
// user live in pkg/api; these only build SQL from a typed filter.

// ErrBadSort is returned for a sort key outside RecordingSortKeys.
var ErrBadSort = errors.New("unknown sort column")

// RecordingSortKeys are the columns a recordings list may be ordered by
// (LightNVR's set). Keys are never spliced into SQL unless found here.
var RecordingSortKeys = map[string]string{
	"id":          "r.id",
	"stream_name": "r.stream_name",
	"start_time":  "r.start_time",
	"end_time":    "r.end_time",
	"size_bytes":  "r.size_bytes",
}

// captureMethodSQL derives LightNVR's capture_method from trigger_type and
// schedule_restricted: a scheduled row recorded without a schedule is
// "continuous". Rows from before schedule_restricted existed (NULL) count
// as continuous too, which is what recording with record=1 writes.
const captureMethodSQL = `CASE WHEN COALESCE(r.trigger_type, 'scheduled') = 'scheduled'
	AND COALESCE(r.schedule_restricted, 0) = 0 THEN 'continuous' ELSE COALESCE(r.trigger_type, 'scheduled') END`

// captureMethodCond is captureMethodSQL IN (methods) spelled out on the
// stored columns: the CASE hides trigger_type from the planner, so a
// filtered list would read every row of the stream to evaluate it, where
// plain trigger_type terms let idx_recordings_stream_trigger_start serve
// both the page and the count.
func captureMethodCond(methods []string) (string, []any) {
	const scheduled = `COALESCE(r.trigger_type, 'scheduled') = 'scheduled'`
	var terms []string
	var args []any
	var others []any
	for _, m := range methods {
		switch m {
		case "continuous":
			// A stored 'continuous' passes through the CASE unchanged.
			terms = append(terms, `(`+scheduled+` AND COALESCE(r.schedule_restricted, 0) = 0)`)
			others = append(others, m)
		case "scheduled":
			terms = append(terms, `(`+scheduled+` AND COALESCE(r.schedule_restricted, 0) <> 0)`)
		default:
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		terms = append(terms, "r.trigger_type IN ("+placeholders(len(others))+")")
		args = append(args, others...)
	}
	if len(terms) == 1 {
		return terms[0], args
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// hasDetectionSQL: a detection-triggered recording, a detection linked to
// it (annotation mode: so a segment still being written has it at once), or
// any detection of the stream stored during the recording.
const hasDetectionSQL = `(COALESCE(r.trigger_type, '') = 'detection'
	OR EXISTS (SELECT 1 FROM detections d WHERE d.recording_id = r.id)
	OR EXISTS (SELECT 1 FROM detections d
	WHERE d.stream_name = r.stream_name AND d.timestamp >= r.start_time
	AND d.timestamp <= COALESCE(r.end_time, r.start_time)))`

// RecordingFilter selects recordings; zero fields do not filter.
type RecordingFilter struct {
	IDs     []int64
	AfterID int64 // id > AfterID when non-zero: resumes a walk in id order
	Streams []string
	// StartFrom and StartTo bound start_time (unix seconds, inclusive) when
	// non-zero: LightNVR lists the recordings that start inside the range.
	StartFrom, StartTo int64
	CaptureMethods     []string // derived capture_method values, see captureMethodSQL
	HasDetection       *bool
	DetectionLabels    []string // some detection with one of these labels during the recording
	Protected          *bool
	Complete           *bool
	Tags               []string // any of these tags
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// anyOf returns the placeholders of an IN (…) list for vals and vals as
// query arguments.
func anyOf[T any](vals []T) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return placeholders(len(vals)), args
}

// conditions collects the terms of a WHERE clause and their arguments.
type conditions struct {
	terms []string
	args  []any
}

func (c *conditions) add(term string, args ...any) {
	c.terms = append(c.terms, term)
	c.args = append(c.args, args...)
}

// addIn adds a term with one IN list: %s in format stands for its
// placeholders. An empty list adds nothing (it does not filter).
func addIn[T any](c *conditions, format string, vals []T) {
	if len(vals) == 0 {
		return
	}
	in, args := anyOf(vals)
	c.add(fmt.Sprintf(format, in), args...)
}

// addFlag adds whenTrue or whenFalse as *flag says; nil adds nothing.
func (c *conditions) addFlag(flag *bool, whenTrue, whenFalse string) {
	if flag == nil {
		return
	}
	if *flag {
		c.add(whenTrue)
	} else {
		c.add(whenFalse)
	}
}

func (f *RecordingFilter) where() (string, []any) {
	var c conditions
	addIn(&c, "r.id IN (%s)", f.IDs)
	if f.AfterID != 0 {
		c.add("r.id > ?", f.AfterID)
	}
	addIn(&c, "r.stream_name IN (%s)", f.Streams)
	if f.StartFrom != 0 {
		c.add("r.start_time >= ?", f.StartFrom)
	}
	if f.StartTo != 0 {
		c.add("r.start_time <= ?", f.StartTo)
	}
	if len(f.CaptureMethods) > 0 {
		term, args := captureMethodCond(f.CaptureMethods)
		c.add(term, args...)
	}
	c.addFlag(f.HasDetection, hasDetectionSQL, "NOT "+hasDetectionSQL)
	addIn(&c, `EXISTS (SELECT 1 FROM detections d WHERE d.stream_name = r.stream_name
			AND d.timestamp >= r.start_time AND d.timestamp <= COALESCE(r.end_time, r.start_time)
			AND d.label IN (%s))`, f.DetectionLabels)
	c.addFlag(f.Protected, "r.protected = 1", "COALESCE(r.protected, 0) = 0")
	c.addFlag(f.Complete, "r.is_complete = 1", "COALESCE(r.is_complete, 0) = 0")
	addIn(&c, `EXISTS (SELECT 1 FROM recording_tags t WHERE t.recording_id = r.id
			AND t.tag IN (%s))`, f.Tags)
	if len(c.terms) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(c.terms, " AND "), c.args
}

// RecordingItem is a recordings row as the API lists it.
type RecordingItem struct {
	Recording
	CaptureMethod         string
	ScheduleRestricted    *bool
	RetentionOverrideDays *int64
	HasDetection          bool
}

const recordingItemColumns = `r.id, r.stream_name, r.file_path, r.start_time, COALESCE(r.end_time, 0),
	COALESCE(r.size_bytes, 0), COALESCE(r.width, 0), COALESCE(r.height, 0), COALESCE(r.fps, 0),
	COALESCE(r.codec, ''), COALESCE(r.is_complete, 0), COALESCE(r.trigger_type, 'scheduled'),
	COALESCE(r.protected, 0), COALESCE(r.created_at, 0), ` + captureMethodSQL + `, r.schedule_restricted,
	r.retention_override_days, ` + hasDetectionSQL

func scanRecordingItem(sc rowScanner) (*RecordingItem, error) {
	it := &RecordingItem{}
	r := &it.Recording
	var sched, keep sql.NullInt64
	err := sc.Scan(&r.ID, &r.StreamName, &r.FilePath, &r.StartTime, &r.EndTime, &r.SizeBytes,
		&r.Width, &r.Height, &r.FPS, &r.Codec, &r.IsComplete, &r.TriggerType, &r.Protected, &r.CreatedAt,
		&it.CaptureMethod, &sched, &keep, &it.HasDetection)
	if err != nil {
		return nil, err
	}
	if sched.Valid {
		b := sched.Int64 != 0
		it.ScheduleRestricted = &b
	}
	if keep.Valid {
		v := keep.Int64
		it.RetentionOverrideDays = &v
	}
	return it, nil
}

// RecordingPage is one page of a recordings list.
type RecordingPage struct {
	Sort   string // a RecordingSortKeys key; "" is start_time
	Desc   bool
	Limit  int // rows per page; <= 0 means no limit
	Offset int
}

// ListRecordingItems returns the recordings matching f, ordered by the
// page's sort key (ties by id in the same direction, so pages never
// overlap), limited to the page.
func ListRecordingItems(ctx context.Context, q Querier, f RecordingFilter, p RecordingPage) ([]*RecordingItem, error) {
	key := p.Sort
	if key == "" {
		key = "start_time"
	}
	col, ok := RecordingSortKeys[key]
	if !ok {
		return nil, fmt.Errorf("list recordings: sort %q: %w", key, ErrBadSort)
	}
	dir := "ASC"
	if p.Desc {
		dir = "DESC"
	}
	where, args := f.where()
	order := ` ORDER BY ` + col + ` ` + dir
	if col != "r.id" {
		order += `, r.id ` + dir
	}
	query := `SELECT ` + recordingItemColumns + ` FROM recordings r` + where + order
	if p.Limit > 0 {
		// Find the page's ids first, then read the full rows of those
		// only: the inner query can walk a covering index (skipping the
		// offset without touching the table) and never evaluates the
		// per-row detection subquery for rows it skips or sorts away.
		query = `SELECT ` + recordingItemColumns + ` FROM (SELECT r.id FROM recordings r` + where + order +
			` LIMIT ? OFFSET ?) p JOIN recordings r ON r.id = p.id` + order
		args = append(args, p.Limit, max(p.Offset, 0))
	}
	out, err := queryAll(ctx, q, "list recordings", scanRecordingItem, query, args...)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []*RecordingItem{} // the API lists [], not null
	}
	return out, nil
}

// CountRecordingItems returns how many recordings match f.
func CountRecordingItems(ctx context.Context, q Querier, f RecordingFilter) (int64, error) {
	where, args := f.where()
	n, err := queryValue[int64](ctx, q, `SELECT count(*) FROM recordings r`+where, args...)
	if err != nil {
		return 0, fmt.Errorf("count recordings: %w", err)
	}
	return n, nil
}

// GetRecordingItem returns one recording, ErrRecordingNotFound if no row
// has id.
func GetRecordingItem(ctx context.Context, q Querier, id int64) (*RecordingItem, error) {
	return queryRow(ctx, q, scanRecordingItem, fmt.Sprintf("recording %d", id), ErrRecordingNotFound,
		`SELECT `+recordingItemColumns+` FROM recordings r WHERE r.id = ?`, id)
}

// RecordingIDsMatching returns the ids of up to limit recordings matching
// f, in id order.
func RecordingIDsMatching(ctx context.Context, q Querier, f RecordingFilter, limit int) ([]int64, error) {
	where, args := f.where()
	args = append(args, limit)
	return queryAll(ctx, q, "recording ids", scanOne[int64], `SELECT r.id FROM recordings r`+where+` ORDER BY r.id LIMIT ?`, args...)
}

// RecordingTagsOf returns the tags of each of ids that has any, sorted.
func RecordingTagsOf(ctx context.Context, q Querier, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := anyOf(ids)
	type tagRow struct {
		id  int64
		tag string
	}
	rows, err := queryAll(ctx, q, "recording tags", scanFields(func(t *tagRow) []any { return []any{&t.id, &t.tag} }),
		`SELECT recording_id, tag FROM recording_tags WHERE recording_id IN (`+in+`) ORDER BY recording_id, tag`, args...)
	if err != nil {
		return nil, err
	}
	for _, t := range rows {
		out[t.id] = append(out[t.id], t.tag)
	}
	return out, nil
}

// LabelCount is how many detections of one label a recording holds.
type LabelCount struct {
	Label string
	Count int64
}

// DetectionLabelsDuring counts the detections of stream between from and
// to (unix seconds, inclusive) by label, most frequent first.
func DetectionLabelsDuring(ctx context.Context, q Querier, stream string, from, to int64) ([]LabelCount, error) {
	return queryAll(ctx, q, fmt.Sprintf("detection labels of %s", stream), scanFields(func(lc *LabelCount) []any { return []any{&lc.Label, &lc.Count} }), `SELECT label, count(*) FROM detections
		WHERE stream_name = ? AND timestamp >= ? AND timestamp <= ? GROUP BY label ORDER BY count(*) DESC, label`,
		stream, from, to)
}
