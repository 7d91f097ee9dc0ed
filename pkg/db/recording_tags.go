package db

import (
	"context"
	"fmt"
	"strings"
)

// AddRecordingTags gives recording id those of tags it does not have yet.
func AddRecordingTags(ctx context.Context, q Querier, id int64, tags []string) error {
	_, err := addRecordingTags(ctx, q, id, tags)
	return err
}

// addRecordingTags inserts the tags id lacks and returns how many it added.
func addRecordingTags(ctx context.Context, q Querier, id int64, tags []string) (int64, error) {
	if len(tags) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, id, t)
	}
	rows := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(tags)), ", ")
	n, err := exec(ctx, q, `INSERT OR IGNORE INTO recording_tags (recording_id, tag) VALUES `+rows, args...)
	if err != nil {
		return 0, fmt.Errorf("tag recording %d: %w", id, err)
	}
	return n, nil
}

// removeRecordingTags drops tags from id and returns how many it had.
func removeRecordingTags(ctx context.Context, q Querier, id int64, tags []string) (int64, error) {
	if len(tags) == 0 {
		return 0, nil
	}
	in, args := anyOf(tags)
	n, err := exec(ctx, q, `DELETE FROM recording_tags WHERE recording_id = ? AND tag IN (`+in+`)`, append([]any{id}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("untag recording %d: %w", id, err)
	}
	return n, nil
}

// SetRecordingTags makes tags the whole tag set of recording id, in one
// transaction so a reader never sees it half replaced.
func (d *DB) SetRecordingTags(ctx context.Context, id int64, tags []string) error {
	return d.inTx(ctx, func(q Querier) error {
		if _, err := exec(ctx, q, `DELETE FROM recording_tags WHERE recording_id = ?`, id); err != nil {
			return fmt.Errorf("clear tags of recording %d: %w", id, err)
		}
		_, err := addRecordingTags(ctx, q, id, tags)
		return err
	})
}

// TagChange is what a batch tag edit did.
type TagChange struct {
	Added, Removed int64
}

// ChangeRecordingTags adds and removes tags on every one of ids, in one
// transaction, and counts the rows that really changed.
func (d *DB) ChangeRecordingTags(ctx context.Context, ids []int64, add, remove []string) (TagChange, error) {
	var c TagChange
	err := d.inTx(ctx, func(q Querier) error {
		for _, id := range ids {
			r, err := removeRecordingTags(ctx, q, id, remove)
			if err != nil {
				return err
			}
			a, err := addRecordingTags(ctx, q, id, add)
			if err != nil {
				return err
			}
			c.Added, c.Removed = c.Added+a, c.Removed+r
		}
		return nil
	})
	if err != nil {
		return TagChange{}, err
	}
	return c, nil
}

// RecordingTagNames lists the distinct tags in use, sorted; with streams
// given, only those on recordings of these streams.
func RecordingTagNames(ctx context.Context, q Querier, streams []string) ([]string, error) {
	query, args := `SELECT DISTINCT tag FROM recording_tags ORDER BY tag`, []any(nil)
	if streams != nil {
		var in string
		in, args = anyOf(streams)
		query = `SELECT DISTINCT t.tag FROM recording_tags t JOIN recordings r ON r.id = t.recording_id
			WHERE r.stream_name IN (` + in + `) ORDER BY t.tag`
	}
	return queryAll(ctx, q, "recording tag names", scanOne[string], query, args...)
}
