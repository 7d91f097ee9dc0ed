package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"lightnvr/pkg/db"
)

// Sync brings the size of every complete recording in line with its file
// on disk (a file copied back, or grown by a tool) and returns how many rows
// it corrected. Rows whose file is gone are left to the next retention
// pass, which it asks for: that pass keeps protected rows and stops on a
// disk that looks unmounted.
func (c *Controller) Sync(ctx context.Context) (int, error) {
	updated := 0
	var after int64
	for {
		rows, err := db.CompleteRecordingsFrom(ctx, c.cfg.DB, after, c.cfg.OrphanBatch)
		if err != nil {
			return updated, err
		}
		for _, r := range rows {
			fi, err := os.Stat(r.FilePath)
			if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Size() == r.SizeBytes) {
				continue
			}
			if err != nil {
				return updated, err
			}
			if err := db.SetRecordingSize(ctx, c.cfg.DB, r.ID, fi.Size()); err != nil {
				return updated, err
			}
			updated++
		}
		if len(rows) < c.cfg.OrphanBatch {
			break
		}
		after = rows[len(rows)-1].ID
	}
	c.Kick()
	return updated, nil
}
