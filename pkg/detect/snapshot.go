package detect

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/host"
)

const (
	// SnapshotsKept bounds one stream's snapshots; the oldest go first, so
	// a busy camera never fills the disk with pictures.
	SnapshotsKept = 200
	// snapshotGap is the shortest time between two snapshots of a stream:
	// a detector that fires every second writes one picture per gap, not
	// one per event (flash wear, and go2rtc decodes a keyframe per frame).
	snapshotGap = 5 * time.Second
	// snapshotQueue is how many frame fetches may wait; more are dropped.
	snapshotQueue = 16
)

// ErrSnapshotName is a stream or file name that is not one plain path
// element: it could leave the snapshot directory.
var ErrSnapshotName = errors.New("not a snapshot name")

// snapshotDir is where snapshots live below the [storage] path.
func snapshotDir(storage string) string { return filepath.Join(storage, "snapshots") }

// SnapshotFile is the path of stream's snapshot file below the [storage]
// path, or ErrSnapshotName when either name could escape its directory or
// file is not a JPEG name.
func SnapshotFile(storage, stream, file string) (string, error) {
	if !plainName(stream) || !plainName(file) || !strings.HasSuffix(file, ".jpg") {
		return "", fmt.Errorf("%w: %q/%q", ErrSnapshotName, stream, file)
	}
	return filepath.Join(snapshotDir(storage), stream, file), nil
}

// plainName is one path element that stays in its directory, and not a
// hidden name (temporary files of host.WriteFile start with a dot).
func plainName(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, "/\\\x00")
}

// Snapshots keeps the frames of detection events as
// <storage>/snapshots/<stream>/<unix-ts>.jpg, at most SnapshotsKept per
// stream and one per stream per snapshotGap. It is safe for concurrent use.
type Snapshots struct {
	storage string
	frames  *go2rtc.Client // nil: no frames are fetched, only given ones saved
	log     *slog.Logger
	keep    int
	want    chan snapshotWant

	mu   sync.Mutex
	last map[string]time.Time // per stream, the time of the last snapshot taken
}

type snapshotWant struct {
	stream string
	at     time.Time
}

// NewSnapshots keeps snapshots below the [storage] path; frames is go2rtc,
// where pictures of events that carry none are fetched (nil: none are).
func NewSnapshots(storage string, frames *go2rtc.Client, log *slog.Logger) *Snapshots {
	return &Snapshots{storage: storage, frames: frames, log: log.With("component", "snapshots"), keep: SnapshotsKept,
		want: make(chan snapshotWant, snapshotQueue), last: map[string]time.Time{}}
}

// due reports whether stream may have a snapshot at at, and if so counts
// it as taken.
func (s *Snapshots) due(stream string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.last[stream]; ok && at.Sub(last) < snapshotGap {
		return false
	}
	s.last[stream] = at
	return true
}

// Save keeps jpeg as stream's snapshot at at and returns its path; "" with
// no error when the stream had one less than snapshotGap before.
func (s *Snapshots) Save(stream string, at time.Time, jpeg []byte) (string, error) {
	if !plainName(stream) || !s.due(stream, at) {
		return "", nil
	}
	return s.write(stream, at, jpeg)
}

// write stores the snapshot atomically, then removes the stream's oldest
// beyond the bound.
func (s *Snapshots) write(stream string, at time.Time, jpeg []byte) (string, error) {
	path, err := SnapshotFile(s.storage, stream, strconv.FormatInt(at.Unix(), 10)+".jpg")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("snapshot directory: %w", err)
	}
	if err := host.WriteFile(path, jpeg, 0o644); err != nil {
		return "", fmt.Errorf("snapshot of %s: %w", stream, err)
	}
	if err := s.prune(filepath.Dir(path)); err != nil {
		s.log.Warn("old snapshots not removed", "stream", stream, "err", err)
	}
	return path, nil
}

// prune removes the oldest snapshots of dir beyond the bound.
func (s *Snapshots) prune(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	var stamps []int64
	for _, e := range entries {
		if ts, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".jpg"), 10, 64); err == nil && strings.HasSuffix(e.Name(), ".jpg") {
			stamps = append(stamps, ts)
		}
	}
	if len(stamps) <= s.keep {
		return nil
	}
	slices.Sort(stamps)
	var errs []error
	for _, ts := range stamps[:len(stamps)-s.keep] {
		if err := os.Remove(filepath.Join(dir, strconv.FormatInt(ts, 10)+".jpg")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
