package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/record"
)

// checkMounted tells whether the data directory holds the files the
// database lists. A disk that failed to mount leaves an empty directory
// (or the root filesystem) in its place: deleting rows for "missing" files
// then would wipe the index of a disk that is merely absent, and evicting
// for free space would delete rows without freeing a byte. So when more
// than half of a sample of recordings spread over the table has no file,
// the disk is presumed unmounted and nothing is deleted.
func (c *Controller) checkMounted(ctx context.Context) (bool, string, error) {
	lo, hi, err := db.RecordingIDRange(ctx, c.cfg.DB)
	if err != nil || hi == 0 {
		return true, "", err
	}
	n := int64(c.cfg.MountSample)
	step := max((hi-lo+1)/n, 1)
	from := make([]int64, 0, n)
	for id := lo; id <= hi && int64(len(from)) < n; id += step {
		from = append(from, id)
	}
	sample, err := db.SampleRecordings(ctx, c.cfg.DB, from)
	if err != nil {
		return true, "", err
	}
	seen := map[int64]bool{}
	checked, missing := 0, 0
	for _, r := range sample {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		checked++
		if _, err := os.Stat(r.FilePath); errors.Is(err, fs.ErrNotExist) {
			missing++
		}
	}
	if missing*2 <= checked {
		return true, "", nil
	}
	_, mp4Err := os.Stat(filepath.Join(c.cfg.Dir, "mp4"))
	if checked >= 10 || errors.Is(mp4Err, fs.ErrNotExist) {
		return false, fmt.Sprintf("%d of %d sampled recordings have no file under %s: the disk looks unmounted or replaced; "+
			"no recording is deleted until the files are back", missing, checked, c.cfg.Dir), nil
	}
	return true, "", nil
}

func (c *Controller) setUnmounted(unmounted bool, why string) {
	c.mu.Lock()
	was := c.st.Unmounted
	c.st.Unmounted = unmounted
	if unmounted {
		c.st.Warning = why
	} else if was {
		c.st.Warning = ""
	}
	c.mu.Unlock()
	switch {
	case unmounted && !was:
		c.log.Error("STORAGE LOOKS UNMOUNTED: retention suspended", "reason", why)
	case unmounted:
		c.log.Warn("storage still looks unmounted: retention suspended", "reason", why)
	case was:
		c.log.Info("storage files are back: retention resumed")
	}
}

// missingFiles checks the next OrphanBatch complete recordings (a cursor
// walks the table over successive passes) and deletes the rows whose file
// is gone. Protected rows are kept and reported.
func (p *pass) missingFiles() error {
	c := p.c
	c.mu.Lock()
	cursor := c.cursor
	c.mu.Unlock()
	rows, err := db.CompleteRecordingsFrom(p.ctx, c.cfg.DB, cursor, c.cfg.OrphanBatch)
	if err != nil {
		return err
	}
	next := int64(0)
	if len(rows) == c.cfg.OrphanBatch {
		next = rows[len(rows)-1].ID
	}
	c.mu.Lock()
	c.cursor = next
	c.mu.Unlock()
	var gone []db.StoredRecording
	for _, r := range rows {
		if _, err := os.Stat(r.FilePath); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if r.Protected {
			c.log.Warn("protected recording has no file; its row is kept", "id", r.ID, "file", r.FilePath)
			continue
		}
		gone = append(gone, r)
	}
	if len(gone) >= 10 && len(gone)*2 > len(rows) {
		// Same rule as checkMounted, for a part of the tree (a stream's
		// directory on another disk, say).
		c.log.Warn("most recordings of a batch have no file; not deleting their rows", "missing", len(gone),
			"checked", len(rows), "first", gone[0].FilePath)
		return nil
	}
	for len(gone) > 0 && p.budget > 0 && p.ctx.Err() == nil {
		n := min(len(gone), c.cfg.BatchSize)
		if _, _, err := p.remove("missing_file", gone[:n]); err != nil {
			return err
		}
		gone = gone[n:]
	}
	return nil
}

// indexOrphans adds rows for recording files that have none (a restored
// database, a copy from elsewhere), every DeepInterval. A file is indexed
// only once it has not changed for MinOrphanAge.
func (p *pass) indexOrphans() error {
	c := p.c
	c.mu.Lock()
	due := c.st.LastDeep.IsZero() || p.now.Sub(c.st.LastDeep) >= c.cfg.DeepInterval
	c.mu.Unlock()
	if !due {
		return nil
	}
	names := map[string]string{} // sanitised directory → stream name
	if streams, err := db.ListStreams(p.ctx, c.cfg.DB); err == nil {
		for _, s := range streams {
			names[record.SanitizeStream(s.Name)] = s.Name
		}
	}
	root := filepath.Join(c.cfg.Dir, "mp4")
	complete := true
	var errs []error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".mp4") {
			return nil
		}
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if p.res.Indexed >= c.cfg.MaxIndexPerPass {
			complete = false
			return fs.SkipAll
		}
		if _, skip := c.skipFiles[path]; skip {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || p.now.Sub(info.ModTime()) < c.cfg.MinOrphanAge {
			return nil
		}
		known, err := db.RecordingPathKnown(p.ctx, c.cfg.DB, path)
		if err != nil || known {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		dir, _, _ := strings.Cut(rel, string(filepath.Separator))
		stream := names[dir]
		if stream == "" {
			stream = dir
		}
		if err := c.indexFile(p.ctx, stream, path, info); err != nil {
			c.log.Warn("recording file without row not indexed", "file", path, "err", err)
			c.skipFiles[path] = struct{}{}
			return nil
		}
		p.res.Indexed++
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if complete && err == nil {
		c.mu.Lock()
		c.st.LastDeep = p.now
		c.mu.Unlock()
	}
	if p.res.Indexed > 0 {
		c.log.Info("indexed recording files that had no row", "count", p.res.Indexed)
	}
	return errors.Join(errs...)
}

// indexFile adds a row for one recording file. Fragmented files (ours) go
// through the recorder's repair, which rebuilds the part index from the
// moofs; a plain MP4 (LightNVR's) gets its duration from mvhd.
func (c *Controller) indexFile(ctx context.Context, stream, path string, info fs.FileInfo) error {
	pr, err := record.ProbeMP4(path)
	if err != nil {
		return err
	}
	trigger := "scheduled"
	if strings.HasPrefix(filepath.Base(path), "detection_") {
		trigger = "detection"
	}
	start := startFromName(filepath.Base(path))
	if start.IsZero() {
		start = info.ModTime().Add(-pr.Duration)
	}
	rec := &db.Recording{StreamName: stream, FilePath: path, StartTime: start.Unix(), TriggerType: trigger,
		SizeBytes: info.Size(), EndTime: start.Add(pr.Duration).Unix()}
	if pr.Fragmented {
		id, err := db.InsertRecording(ctx, c.cfg.DB, rec)
		if err != nil {
			return err
		}
		rec.ID = id
		removed, _, err := record.RecoverRecording(ctx, c.cfg.DB, rec)
		if err == nil && removed {
			return errors.New("no whole part in the file")
		}
		return err
	}
	if pr.Duration <= 0 {
		return errors.New("not a playable MP4 (no duration, no fragments)")
	}
	_, err = db.InsertCompleteRecording(ctx, c.cfg.DB, rec)
	return err
}

// startFromName parses recording_YYYYMMDD_HHMMSS[_N].mp4 (or detection_…),
// local time, as the recorder and LightNVR name files.
func startFromName(name string) time.Time {
	name = strings.TrimSuffix(name, ".mp4")
	_, rest, ok := strings.Cut(name, "_")
	if !ok || len(rest) < 15 {
		return time.Time{}
	}
	t, err := time.ParseInLocation("20060102_150405", rest[:15], time.Local)
	if err != nil {
		return time.Time{}
	}
	return t
}
