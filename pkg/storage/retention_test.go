package storage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

func newController(t testing.TB, d *db.DB, dir string, mod func(*Config)) *Controller {
	t.Helper()
	cfg := Config{Dir: dir, DB: d, Logger: quietLogger(), RetentionDays: 10, AutoDeleteOldest: true, MinFreePct: 10,
		WarningPct: 20, CriticalPct: 10, EmergencyPct: 5}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAgeRetention(t *testing.T) {
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local))
	addStream(t, d, "seven", 7, 30, 0)    // own values
	addStream(t, d, "inherit", -1, -1, 0) // global 10 for both classes
	addStream(t, d, "forever", 0, 0, 0)   // unlimited
	addStream(t, d, "detonly", 0, 3, 0)   // unlimited continuous, 3-day detection clips
	days := func(n int) time.Time { return clk.Now().Add(-time.Duration(n)*24*time.Hour - time.Hour) }

	type rec struct {
		id   int64
		keep bool
		what string
	}
	var recs []rec
	add := func(stream string, age int, trigger string, keep bool, what string) int64 {
		id := addRec(t, d, dir, stream, days(age), 1000, trigger)
		recs = append(recs, rec{id, keep, what})
		return id
	}
	add("seven", 6, "scheduled", true, "younger than 7 days")
	add("seven", 8, "scheduled", false, "older than 7 days")
	add("seven", 20, "detection", true, "detection clip younger than 30 days")
	add("seven", 31, "detection", false, "detection clip older than 30 days")
	add("seven", 8, "motion", true, "motion clip follows detection retention")
	prot := add("seven", 40, "scheduled", true, "protected")
	if _, err := rawSQL(t, d).Exec(`UPDATE recordings SET protected = 1 WHERE id = ?`, prot); err != nil {
		t.Fatal(err)
	}
	forever := add("seven", 40, "scheduled", true, "override 0 keeps forever")
	longer := add("seven", 40, "scheduled", true, "override 60 days not expired")
	expired := add("seven", 40, "scheduled", false, "override 35 days expired")
	c := newController(t, d, dir, func(cfg *Config) { cfg.Now = clk.Now; spaceIndifferent(cfg) })
	for id, days := range map[int64]int{forever: 0, longer: 60, expired: 35} {
		if err := c.SetRetentionOverride(ctx, id, days); err != nil {
			t.Fatal(err)
		}
	}
	open := add("seven", 50, "scheduled", true, "still being written")
	if _, err := rawSQL(t, d).Exec(`UPDATE recordings SET is_complete = 0 WHERE id = ?`, open); err != nil {
		t.Fatal(err)
	}
	add("inherit", 9, "scheduled", true, "inherits 10 days")
	add("inherit", 11, "scheduled", false, "inherits 10 days")
	add("inherit", 11, "detection", false, "detection inherits 10 days")
	add("forever", 400, "scheduled", true, "unlimited")
	add("forever", 400, "detection", true, "unlimited detection")
	add("detonly", 400, "scheduled", true, "unlimited continuous")
	add("detonly", 4, "detection", false, "3-day detection")
	add("deleted-stream", 11, "scheduled", false, "no stream row: global 10 days")
	add("deleted-stream", 9, "scheduled", true, "no stream row: global 10 days")

	res, err := c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files := map[int64]string{}
	for _, r := range recs {
		var p string
		_ = rawSQL(t, d).QueryRow(`SELECT file_path FROM recordings WHERE id = ?`, r.id).Scan(&p)
		files[r.id] = p
		if got := rowExists(t, d, r.id); got != r.keep {
			t.Errorf("recording %d (%s): kept=%v, want %v", r.id, r.what, got, r.keep)
		}
	}
	if res.Deleted["age"] != 4 || res.Deleted["detection_age"] != 3 {
		t.Errorf("deleted %v", res.Deleted)
	}
	if _, err := rawSQL(t, d).Exec(`UPDATE recordings SET is_complete = 1 WHERE id = ?`, open); err != nil {
		t.Fatal(err)
	}
	// The files of deleted rows are gone, the others are there.
	checkConsistent(t, d, dir)

	// 25 days later "longer" (60 days from its start 40 days ago) is still
	// kept, the reopened row now expires.
	clk.Advance(15 * 24 * time.Hour)
	if _, err := c.RunPass(ctx); err != nil {
		t.Fatal(err)
	}
	if !rowExists(t, d, longer) || rowExists(t, d, open) || !rowExists(t, d, forever) || !rowExists(t, d, prot) {
		t.Errorf("after 15 more days: longer=%v open=%v forever=%v protected=%v", rowExists(t, d, longer),
			rowExists(t, d, open), rowExists(t, d, forever), rowExists(t, d, prot))
	}
	clk.Advance(10 * 24 * time.Hour)
	if _, err := c.RunPass(ctx); err != nil {
		t.Fatal(err)
	}
	if rowExists(t, d, longer) {
		t.Errorf("override of 60 days still kept after 65 days")
	}
	checkConsistent(t, d, dir)

	// Deletions are in the daily statistics of their day.
	var deleted int
	if err := rawSQL(t, d).QueryRow(`SELECT COALESCE(sum(deleted_count), 0) FROM storage_daily_stats WHERE date = ?`,
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local).Format("2006-01-02")).Scan(&deleted); err != nil {
		t.Fatal(err)
	}
	if deleted != 7 {
		t.Errorf("daily stats count %d deletions on the first day, want 7", deleted)
	}
}

func TestQuotaPerStream(t *testing.T) {
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	ctx := context.Background()
	addStream(t, d, "small", 0, 0, 1) // 1 MB
	addStream(t, d, "free", 0, 0, 0)
	base := time.Now().Add(-time.Hour)
	var ids []int64
	for i := range 20 {
		ids = append(ids, addRec(t, d, dir, "small", base.Add(time.Duration(i)*time.Minute), 200<<10, "scheduled"))
		addRec(t, d, dir, "free", base.Add(time.Duration(i)*time.Minute), 200<<10, "scheduled")
	}
	c := newController(t, d, dir, spaceIndifferent)
	if _, err := c.Protect(ctx, ids[:1], true); err != nil { // the oldest
		t.Fatal(err)
	}
	res, err := c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := db.StreamUsage(ctx, d, "small")
	if u.Bytes > 1<<20 {
		t.Errorf("stream over its quota: %d bytes", u.Bytes)
	}
	if u.Bytes < 1<<20-200<<10 {
		t.Errorf("evicted more than needed: %d bytes left", u.Bytes)
	}
	if !rowExists(t, d, ids[0]) {
		t.Error("protected recording evicted")
	}
	// Oldest unprotected first: the survivors are the newest.
	for i, id := range ids[1:] {
		if want := i+1 >= 20-int(u.Count-1); rowExists(t, d, id) != want {
			t.Errorf("recording %d of 20: kept=%v want %v", i+1, !want, want)
		}
	}
	if n := countRows(t, d, `SELECT count(*) FROM recordings WHERE stream_name = 'free'`); n != 20 {
		t.Errorf("stream without quota lost recordings: %d left", n)
	}
	if res.Deleted["quota"] == 0 {
		t.Errorf("result %+v", res)
	}
	checkConsistent(t, d, dir)
}

func TestUnmountedDiskDeletesNothing(t *testing.T) {
	dir := mountTmpfs(t, 64)
	d := testkit.OpenDB(t, "")
	ctx := context.Background()
	addStream(t, d, "cam", 1, 1, 0)
	old := time.Now().Add(-48 * time.Hour)
	for i := range 30 {
		addRec(t, d, dir, "cam", old.Add(time.Duration(i)*time.Minute), 1000, "scheduled")
	}
	c := newController(t, d, dir, nil)
	// The disk "fails to mount": an empty, nearly full filesystem appears
	// in its place, so both age retention and the free-space floor would
	// want to delete.
	mountAt(t, dir, 8)
	if err := os.WriteFile(filepath.Join(dir, "fill"), make([]byte, 7<<20+900<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, d, `SELECT count(*) FROM recordings`); n != 30 || res.TotalDeleted() != 0 {
		t.Fatalf("%d rows left, %d deleted by a pass over an unmounted disk", n, res.TotalDeleted())
	}
	st := c.Status()
	if !st.Unmounted || st.Warning == "" || !res.Unmounted {
		t.Fatalf("no warning raised: %+v", st)
	}
	if st.Level != LevelEmergency {
		t.Errorf("level %v on a full disk", st.Level)
	}
	// The disk is back: retention resumes.
	if err := unmountTop(dir); err != nil {
		t.Fatal(err)
	}
	res, err = c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Unmounted || st.Warning != "" || res.Deleted["age"] != 30 {
		t.Fatalf("after remount: %+v, %+v", st, res)
	}
	checkConsistent(t, d, dir)
}

func TestMostFilesMissingDeletesNothing(t *testing.T) {
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	ctx := context.Background()
	addStream(t, d, "cam", 0, 0, 0)
	var paths []string
	for i := range 40 {
		id := addRec(t, d, dir, "cam", time.Now().Add(-time.Duration(i)*time.Minute), 1000, "scheduled")
		var p string
		_ = rawSQL(t, d).QueryRow(`SELECT file_path FROM recordings WHERE id = ?`, id).Scan(&p)
		paths = append(paths, p)
	}
	c := newController(t, d, dir, spaceIndifferent)
	// A few missing files: their rows go.
	for _, p := range paths[:3] {
		_ = os.Remove(p)
	}
	res, err := c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted["missing_file"] != 3 || c.Status().Unmounted {
		t.Fatalf("missing files: %+v", res)
	}
	// Most files missing: nothing is deleted and the state says why.
	for _, p := range paths[3:30] {
		_ = os.Remove(p)
	}
	res, err = c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, d, `SELECT count(*) FROM recordings`); n != 37 || !c.Status().Unmounted {
		t.Fatalf("%d rows, status %+v", n, c.Status())
	}
	_ = res
}

func unmountTop(dir string) error {
	return exec.Command("umount", dir).Run()
}

func TestOrphanFilesIndexed(t *testing.T) {
	ff := testkit.Need(t, "ffmpeg")
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	ctx := context.Background()
	addStream(t, d, "front.door", 0, 0, 0)
	clk := testkit.NewClock(time.Now())

	// A fragmented segment written by the recorder, whose row is then lost
	// (a database restored from an older backup, say).
	smp := sample(t)
	f := newFeeder(t, smp, recordConfig(d, dir, "front.door", 60*time.Second), time.Now().Add(-time.Hour))
	f.feedLoop()
	if err := f.rec.Close(); err != nil {
		t.Fatal(err)
	}
	var fragPath string
	var fragEnd int64
	if err := rawSQL(t, d).QueryRow(`SELECT file_path, end_time - start_time FROM recordings`).Scan(&fragPath, &fragEnd); err != nil {
		t.Fatal(err)
	}
	if _, err := rawSQL(t, d).Exec(`DELETE FROM recordings`); err != nil {
		t.Fatal(err)
	}
	// A plain (LightNVR-style, moov first) MP4 of 3 s without row.
	mp4Dir := filepath.Join(dir, "mp4", "front_door", "2026", "01", "02")
	if err := os.MkdirAll(mp4Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(mp4Dir, "detection_20260102_030405.mp4")
	if out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
		"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart", plain).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	junk := filepath.Join(mp4Dir, "recording_20260102_030000.mp4")
	if err := os.WriteFile(junk, []byte("not a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newController(t, d, dir, func(cfg *Config) { cfg.Now = clk.Now; cfg.MinOrphanAge = time.Minute; spaceIndifferent(cfg) })
	// Too fresh: a file might still be written.
	if res, err := c.RunPass(ctx); err != nil || res.Indexed != 0 {
		t.Fatalf("indexed fresh files: %+v %v", res, err)
	}
	clk.Advance(2 * time.Minute)
	c.mu.Lock()
	c.st.LastDeep = time.Time{}
	c.mu.Unlock()
	res, err := c.RunPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Indexed != 2 {
		t.Fatalf("indexed %d files, want 2", res.Indexed)
	}
	var n int
	var dur int64
	var trig string
	if err := rawSQL(t, d).QueryRow(`SELECT count(*), end_time - start_time, trigger_type FROM recordings WHERE file_path = ? AND is_complete = 1
		AND stream_name = 'front.door'`, plain).Scan(&n, &dur, &trig); err != nil || n != 1 || dur != 3 || trig != "detection" {
		t.Errorf("plain MP4 row: n=%d duration=%d trigger=%s err=%v", n, dur, trig, err)
	}
	if err := rawSQL(t, d).QueryRow(`SELECT count(*), end_time - start_time FROM recordings WHERE file_path = ? AND is_complete = 1`,
		fragPath).Scan(&n, &dur); err != nil || n != 1 || dur < fragEnd-1 || dur > fragEnd+1 {
		t.Errorf("fMP4 row: n=%d duration=%d (recorder said %d) err=%v", n, dur, fragEnd, err)
	}
	if n := countRows(t, d, `SELECT part_count FROM recording_index WHERE recording_id =
		(SELECT id FROM recordings WHERE file_path = ?)`, fragPath); n < 3 {
		t.Errorf("fMP4 part index has %d parts", n)
	}
	if _, err := os.Stat(junk); err != nil {
		t.Errorf("a file that is not a recording was touched: %v", err)
	}
}
