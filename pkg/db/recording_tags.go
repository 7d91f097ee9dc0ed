package db

import (
	"context"
	"fmt"
	"strings"
)

// AddRecordingTags gives recording id those of tags it does not have yet.
func AddRecordingTags(ctx context.Context, q Querier, id int64, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, id, t)
	}
	rows := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(tags)), ", ")
	if _, err := exec(ctx, q, `INSERT OR IGNORE INTO recording_tags (recording_id, tag) VALUES `+rows, args...); err != nil {
		return fmt.Errorf("tag recording %d: %w", id, err)
	}
	return nil
}
