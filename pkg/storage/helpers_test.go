package storage

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func quietLogger() *slog.Logger {
	if os.Getenv(childEnv) == "" && testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// mountTmpfs mounts a tmpfs of sizeMB at a new directory, unmounted when
// the test ends. Mounting needs root: without it the test fails under CI
// and is skipped elsewhere.
func mountTmpfs(t testing.TB, sizeMB int) string {
	t.Helper()
	dir := t.TempDir()
	mountAt(t, dir, sizeMB)
	return dir
}

// plainDir is a data directory on the test machine's own disk, for tests of
// rules that do not depend on free space (age, quota, missing files, orphans):
// they need no mount and so no root. spaceIndifferent keeps the free-space
// floor out of their way on a machine whose disk is nearly full.
func plainDir(t testing.TB) string {
	t.Helper()
	return t.TempDir()
}

// spaceIndifferent sets the free-space floor and pressure levels to a
// thousandth of a percent: no real disk is that full, so a test on plainDir
// sees only the rule it is about.
func spaceIndifferent(cfg *Config) {
	cfg.MinFreePct, cfg.WarningPct, cfg.CriticalPct, cfg.EmergencyPct = 0.001, 0.003, 0.002, 0.001
}

func mountAt(t testing.TB, dir string, sizeMB int) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm", sizeMB)); err != nil {
		testkit.Missing(t, fmt.Sprintf("cannot mount a tmpfs at %s (needs root): %v", dir, err))
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

func addStream(t testing.TB, d *db.DB, name string, days, detDays, maxMB int) {
	t.Helper()
	if _, err := rawSQL(t, d).Exec(`INSERT INTO streams (name, url, retention_days, detection_retention_days, max_storage_mb)
		VALUES (?, 'rtsp://127.0.0.1/x', ?, ?, ?)`, name, days, detDays, maxMB); err != nil {
		t.Fatal(err)
	}
}

var fileSeq atomic.Int64

// addRec writes a file of size bytes under the recorder's layout and a
// complete row for it; returns the id.
func addRec(t testing.TB, d *db.DB, dir, stream string, start time.Time, size int, trigger string) int64 {
	t.Helper()
	ctx := context.Background()
	sd := record.SegmentDir(dir, stream, "", start)
	if err := os.MkdirAll(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	prefix := "recording_"
	if trigger == "detection" {
		prefix = "detection_"
	}
	path := filepath.Join(sd, fmt.Sprintf("%s%s_%d.mp4", prefix, start.Format("20060102_150405"), fileSeq.Add(1)))
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := db.InsertRecording(ctx, d, &db.Recording{StreamName: stream, FilePath: path, StartTime: start.Unix(), TriggerType: trigger})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteRecording(ctx, d, id, db.RecordingEnd{EndTime: start.Unix() + 60, SizeBytes: int64(size)}); err != nil {
		t.Fatal(err)
	}
	return id
}

func rowExists(t testing.TB, d *db.DB, id int64) bool {
	t.Helper()
	var n int
	if err := rawSQL(t, d).QueryRow(`SELECT count(*) FROM recordings WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func countRows(t testing.TB, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := rawSQL(t, d).QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkConsistent asserts no pending garbage, every row's file exists and
// every .mp4 under dir has a row.
func checkConsistent(t testing.TB, d *db.DB, dir string) {
	t.Helper()
	if n := countRows(t, d, `SELECT count(*) FROM recordings_garbage`); n != 0 {
		t.Errorf("%d garbage rows left", n)
	}
	rows, err := rawSQL(t, d).Query(`SELECT file_path FROM recordings WHERE is_complete = 1`)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		paths[p] = true
		if _, err := os.Stat(p); err != nil {
			t.Errorf("row without file: %v", err)
		}
	}
	_ = rows.Close()
	_ = filepath.WalkDir(filepath.Join(dir, "mp4"), func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && !paths[p] {
			t.Errorf("file without row: %s", p)
		}
		return nil
	})
}

// feeder replays a loadgen sample into a real Recorder as fast as the
// recorder takes it, so fMP4 segments pile up at disk speed.
type feeder struct {
	rec     *record.Recorder
	desc    *media.Desc
	smp     *loadgen.Sample
	seq     uint64
	loop    int64
	wall0   time.Time
	written atomic.Int64 // payload bytes handed to the recorder
	// rate caps the bytes per second handed to the recorder (0 = none).
	rate float64
	// realTime hands each unit over when its media time has passed, as a
	// camera sends it.
	realTime bool
	started  time.Time
}

func newFeeder(t testing.TB, smp *loadgen.Sample, cfg record.Config, wall0 time.Time) *feeder {
	t.Helper()
	rec, err := record.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := &media.Track{Codec: media.CodecH264, ClockRate: 90000, SPS: smp.SPS, PPS: smp.PPS, Width: 640, Height: 360, FPS: 25}
	return &feeder{rec: rec, desc: &media.Desc{Gen: 1, Video: tr}, smp: smp, wall0: wall0}
}

// feedLoop writes one pass over the sample.
func (f *feeder) feedLoop() {
	tr := f.desc.Video
	for _, au := range f.smp.Video {
		var payload []byte
		for _, n := range au.AU {
			payload = binary.BigEndian.AppendUint32(payload, uint32(len(n)))
			payload = append(payload, n...)
		}
		nalus := make([][]byte, 0, len(au.AU))
		off := 0
		for _, n := range au.AU {
			off += 4
			nalus = append(nalus, payload[off:off+len(n)])
			off += len(n)
		}
		dts := f.loop*f.smp.Duration + au.DTS
		f.seq++
		u := &media.Unit{Desc: f.desc, Track: tr, Seq: f.seq, DTS: dts, PTS: f.loop*f.smp.Duration + au.PTS,
			Wall: f.wall0.Add(media.TicksToDuration(dts, 90000)), Key: au.Key, Payload: payload, NALUs: nalus}
		f.rec.Write(u)
		w := f.written.Add(int64(len(payload)))
		if f.realTime {
			if f.started.IsZero() {
				f.started = time.Now()
			}
			if d := time.Until(f.started.Add(media.TicksToDuration(dts, 90000))); d > 0 {
				time.Sleep(d)
			}
		} else if f.rate > 0 {
			if f.started.IsZero() {
				f.started = time.Now()
			}
			due := f.started.Add(time.Duration(float64(w) / f.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
	}
	f.loop++
}

// fillSampler watches a filling disk every 2 ms: the lowest free space seen
// and every recorder failure, the two things a fill test judges.
type fillSampler struct {
	minFree  atomic.Uint64
	mu       sync.Mutex
	failures []string
	done     chan struct{}
	wg       sync.WaitGroup
}

func startFillSampler(dir string, free0 uint64, recorders []*record.Recorder) *fillSampler {
	s := &fillSampler{done: make(chan struct{})}
	s.minFree.Store(free0)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if sp, err := statSpace(dir); err == nil && sp.Free < s.minFree.Load() {
				s.minFree.Store(sp.Free)
			}
			for _, r := range recorders {
				if st := r.Status(); st.State == record.StateFailing || st.Err != nil {
					s.mu.Lock()
					s.failures = append(s.failures, st.Path+": "+st.Err.Error())
					s.mu.Unlock()
				}
			}
		}
	}()
	return s
}

func (s *fillSampler) stop() {
	close(s.done)
	s.wg.Wait()
}

// check fails t if free space fell below floor or a recorder failed.
func (s *fillSampler) check(t *testing.T, floor uint64) {
	t.Helper()
	if low := s.minFree.Load(); low < floor {
		t.Errorf("free space fell to %d bytes, below the floor of %d", low, floor)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 0 {
		t.Errorf("recording failed %d times, first: %s", len(s.failures), s.failures[0])
	}
}

type rawKey struct {
	t    testing.TB
	path string
}

var rawPools sync.Map // rawKey → *sql.DB

// rawSQL is a second pool on d's file (testkit.SQL) for seeding and
// inspecting rows, one per test and database.
func rawSQL(t testing.TB, d *db.DB) *sql.DB {
	t.Helper()
	k := rawKey{t, d.Path()}
	if p, ok := rawPools.Load(k); ok {
		return p.(*sql.DB)
	}
	p := testkit.SQL(t, d.Path())
	rawPools.Store(k, p)
	t.Cleanup(func() { rawPools.Delete(k) })
	return p
}

// prodController is the controller as the daemon builds it: [storage]
// defaults with data directory dir, then mod (nil: none) on the result,
// checked to keep the production heartbeat and pass interval.
func prodController(t testing.TB, d *db.DB, dir string, mod func(*Config)) *Controller {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = dir
	sc := FromConfig(cfg, d, quietLogger())
	if mod != nil {
		mod(&sc)
	}
	c, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Heartbeat != time.Minute || c.cfg.PassInterval != 5*time.Minute || !c.cfg.AutoDeleteOldest {
		t.Fatalf("not the production settings: heartbeat %v, pass %v, auto_delete_oldest %v",
			c.cfg.Heartbeat, c.cfg.PassInterval, c.cfg.AutoDeleteOldest)
	}
	return c
}

// started starts c for the test, which stops it at its end.
func started(t testing.TB, c *Controller) *Controller {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}
