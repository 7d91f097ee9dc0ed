package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/record"
)

// Test hooks, run after the rows moved to the garbage table and after the
// files were unlinked (before the garbage rows go), so a test can kill the
// process at either point.
var (
	afterGarbageMove func()
	afterUnlink      func()
)

// deleteRecordings deletes the recordings among ids that are still
// deletable (complete, unprotected), crash-consistently, and returns them.
// Deletions are counted in today's statistics under their stream.
// Delete removes the recordings among ids that may go (complete and not
// protected, checked inside the transaction that moves them) through the
// garbage table, and counts them in the daily statistics. It returns how many
// were deleted; the API's delete endpoints use it so that every delete, by a
// user or by retention, takes the same crash-safe path.
func (c *Controller) Delete(ctx context.Context, ids []int64) (int, error) {
	moved, err := c.deleteRecordings(ctx, ids)
	return len(moved), err
}

func (c *Controller) deleteRecordings(ctx context.Context, ids []int64) ([]db.DeletedRecording, error) {
	moved, err := db.MoveDeletableToGarbage(ctx, c.cfg.DB, ids)
	if err != nil || len(moved) == 0 {
		return nil, err
	}
	if afterGarbageMove != nil {
		afterGarbageMove()
	}
	entries := make([]db.GarbageEntry, len(moved))
	for i := range moved {
		entries[i] = moved[i].GarbageEntry
	}
	// From here the deletion only moves forward: a stop that cancels ctx
	// must not leave it half done for the next start to finish.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	done, err := c.unlinkGarbage(ctx, entries)
	c.countDeleted(ctx, moved)
	if err == nil && done < len(moved) {
		err = fmt.Errorf("%d of %d deletions left pending", len(moved)-done, len(moved))
	}
	return moved, err
}

// finishTimeout bounds the bookkeeping of a deletion whose files are being
// removed, which a stop does not cancel.
const finishTimeout = 10 * time.Second

// unlinkGarbage removes the files of garbage entries (and their
// thumbnails), syncs their directories once each, then removes the
// garbage rows of the files that are gone. It returns how many entries it
// finished; the rest stay pending for the next attempt.
func (c *Controller) unlinkGarbage(ctx context.Context, entries []db.GarbageEntry) (int, error) {
	var errs []error
	dirs := map[string]struct{}{}
	gone := make([]int64, 0, len(entries))
	for _, g := range entries {
		if err := os.Remove(g.FilePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete recording %d: %w", g.RecordingID, err))
			continue
		}
		c.removeThumbnails(g.RecordingID)
		dirs[filepath.Dir(g.FilePath)] = struct{}{}
		gone = append(gone, g.RecordingID)
	}
	for dir := range dirs {
		if err := record.SyncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Without the sync the unlink may not survive a power cut:
			// keep the garbage rows so the next attempt redoes it.
			errs = append(errs, err)
			gone = gone[:0]
			break
		}
	}
	if afterUnlink != nil {
		afterUnlink()
	}
	if err := db.DeleteGarbageEntries(ctx, c.cfg.DB, gone); err != nil {
		errs = append(errs, err)
		return 0, errors.Join(errs...)
	}
	return len(gone), errors.Join(errs...)
}

// ThumbnailsPerRecording is how many thumbnails a recording can have.
const ThumbnailsPerRecording = 3

// ThumbnailPath is where thumbnail idx of recording id is kept under the
// storage directory dir: LightNVR's <dir>/thumbnails/<id>_<idx>.jpg.
func ThumbnailPath(dir string, id int64, idx int) string {
	return filepath.Join(dir, "thumbnails", strconv.FormatInt(id, 10)+"_"+strconv.Itoa(idx)+".jpg")
}

// removeThumbnails removes the lazily made thumbnails of recording id;
// missing ones are fine.
func (c *Controller) removeThumbnails(id int64) {
	for idx := range ThumbnailsPerRecording {
		_ = os.Remove(ThumbnailPath(c.cfg.Dir, id, idx))
	}
}

// FinishPendingDeletes completes deletions a crash interrupted: every
// garbage row's file is removed, then the row.
func (c *Controller) FinishPendingDeletes(ctx context.Context) error {
	entries, err := db.Garbage(ctx, c.cfg.DB)
	if err != nil || len(entries) == 0 {
		return err
	}
	n, err := c.unlinkGarbage(ctx, entries)
	c.log.Info("finished interrupted deletions", "count", n)
	return err
}

// countDeleted adds deletions to today's storage_daily_stats rows.
func (c *Controller) countDeleted(ctx context.Context, moved []db.DeletedRecording) {
	type key struct {
		stream string
		tier   int
	}
	agg := map[key][2]int64{}
	var freed int64
	for _, m := range moved {
		k := key{m.StreamName, m.Tier}
		v := agg[k]
		v[0]++
		v[1] += m.SizeBytes
		agg[k] = v
		freed += m.SizeBytes
	}
	c.mu.Lock()
	c.freedAcc += freed
	c.mu.Unlock()
	date := c.cfg.Now().Format("2006-01-02")
	for k, v := range agg {
		if err := db.AddDailyDeleted(ctx, c.cfg.DB, date, k.stream, k.tier, v[0], v[1]); err != nil {
			c.log.Warn("storage statistics not updated", "err", err)
		}
	}
}
