package qemutest

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

const (
	recordingCuts = 5
	// What a power cut may cost a stream: the recorder makes each part
	// durable once it holds 1 s of video (record.Config.PartDuration), the
	// frame it is waiting on to close a part is the most in flight, and the
	// part's fdatasync may be under way at the cut (milliseconds on a real
	// disk, up to a few hundred under emulation on a loaded host).
	maxLostSeconds = 1.0 + 1.0/srcFPS + 0.2
	// How far the recorder's wall clock for a recording (the first part's
	// time, counted on by media time) may run ahead of the guest's own: the
	// session's first frames can arrive in a burst, which starts the count
	// late. A recording ending more than this after the cut means the test
	// misread the clocks.
	wallAhead = 500 * time.Millisecond
	// How far the guest's clock may move against the host's within a boot
	// for the recorder's times to count (see cutState.steady).
	steadyClock = 250 * time.Millisecond
	// The data disk as the guest sees it: recordings and the database.
	guestDataDir = "/data"
)

var cutStreams = []string{"cut1", "cut2"}

// TestPowerCutWhileRecording kills qemu (SIGKILL: no shutdown, the guest's
// page cache gone) while two streams record to the ext4 data disk, five
// times at random moments, booting again on the same disk each time. After
// every cut the disk must need no repair beyond its journal, and after every
// boot the daemon's start-up recovery must have completed every recording
// the cut interrupted, each of them must play to its end, and each stream
// must have lost at most a part's worth of video before the cut.
func TestPowerCutWhileRecording(t *testing.T) {
	img := applianceImages(t)
	need(t, "e2fsck", "e2fsprogs")
	need(t, "debugfs", "e2fsprogs")
	// A disk of its own, never booted (TestAppliance boots data.img).
	img.DataDisk = filepath.Join(t.TempDir(), "data.img")
	copySparse(t, filepath.Join(os.Getenv(imagesEnv), "qemu-malta", "blank-data.img"), img.DataDisk)

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIGHTNVR_POWERCUT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LIGHTNVR_POWERCUT_SEED: %v", err)
		}
	}
	t.Logf("power-cut seed %d (LIGHTNVR_POWERCUT_SEED=%d repeats the moments)", seed, seed)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	src := startRTSPSource(t)
	r := newCutRig(t, img, rand.New(rand.NewPCG(seed, 0)))

	for boot := 0; ; boot++ {
		r.boot(ctx, boot)
		if boot == 0 {
			r.setUp(ctx, fmt.Sprintf("rtsp://10.0.2.2:%d/cam", src.rtspPort))
		} else {
			r.signIn()
			r.checkAfterCut(ctx)
		}
		if boot == recordingCuts {
			break
		}
		r.waitRecording(ctx)
		r.powerCut(ctx, boot+1)
	}

	// What the last boot recorded plays too.
	offset, _ := guestClockOffset(ctx, t, r.m)
	rest := map[int64]apiRecording{}
	for _, rec := range r.recordings() {
		rest[rec.ID] = rec
	}
	r.checkPlayable(rest, math.MaxInt64, (offset-r.offset).Abs() <= steadyClock)

	// The last boot ends cleanly: the kernel has replayed and unmounted the
	// disk, so the disk itself (no copy) must check clean.
	r.m.Send("poweroff\n")
	if err := r.m.WaitExit(ctx); err != nil {
		t.Fatalf("poweroff: %v", err)
	}
	if out, err := exec.Command("e2fsck", "-f", "-n", img.DataDisk).CombinedOutput(); err != nil {
		t.Errorf("data disk not clean after %d power cuts and a poweroff: %v\n%s", recordingCuts, err, out)
	}
	t.Logf("%d recordings played to their end over %d power cuts", len(r.played), recordingCuts)
}

// cutRig is one appliance on one data disk, booted again after each cut.
type cutRig struct {
	t       *testing.T
	img     Images
	rng     *rand.Rand
	console io.Writer
	webPort int
	base    string
	client  *http.Client

	user, password string // the first-boot admin

	m      *Machine
	offset time.Duration // guest clock minus host clock, this boot
	fuzz   time.Duration // how far offset may be off

	cut    *cutState      // what the disk held at the last cut
	played map[int64]bool // recordings downloaded and decoded to their end
}

// cutState is what the host read off the data disk after a cut, before
// the guest booted again.
type cutState struct {
	n          int
	guest      time.Time     // the moment of the kill on the guest's clock
	fuzz       time.Duration // its uncertainty
	jumped     time.Duration // how far the guest's clock jumped between the boot and the cut
	maxID      int64         // the newest row on the disk
	recordings []*db.Recording
	startUS    map[int64]int64 // recording id -> start (µs) from its part index
	incomplete int             // rows the cut left incomplete
}

func newCutRig(t *testing.T, img Images, rng *rand.Rand) *cutRig {
	var console io.Writer = io.Discard
	if keep := os.Getenv("LIGHTNVR_QEMU_CONSOLE_LOG"); keep != "" {
		f, err := os.Create(strings.TrimSuffix(keep, ".log") + "-powercut.log")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		console = f
	}
	jar, _ := cookiejar.New(nil)
	r := &cutRig{t: t, img: img, rng: rng, console: console, webPort: testkit.FreePort(t),
		// Generous: the guest answers slowly while it recovers after a cut on a loaded host.
		client: &http.Client{Timeout: time.Minute, Jar: jar},
		played: map[int64]bool{}}
	r.base = fmt.Sprintf("http://127.0.0.1:%d", r.webPort)
	t.Cleanup(func() {
		if t.Failed() && r.m != nil {
			t.Logf("serial console of the last boot (last 4000 bytes):\n%s", tailString(r.m.Console(), 4000))
		}
	})
	return r
}

// boot starts qemu on the rig's disk, waits for the API, logs in on the
// console and measures the guest's clock against the host's.
func (r *cutRig) boot(ctx context.Context, n int) {
	t := r.t
	fmt.Fprintf(r.console, "\n===== boot %d =====\n", n)
	// nohz=off: a tickless guest idles past a wrap of the emulated 32-bit
	// cycle counter and its clock jumps back 51.5 s (2^32 at 83.3 MHz).
	m, err := Boot(r.img, Options{MemoryMB: 160, Forward: map[int]int{r.webPort: 8080}, Console: r.console, Append: "nohz=off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	r.m = m
	waitOK(ctx, t, m, r.base+"/api/health")
	consoleLogin(ctx, t, m)
	r.offset, _ = guestClockOffset(ctx, t, m)
}

// setUp signs in with the first-boot admin password from the console and
// adds the two streams, both pulling the host's source.
func (r *cutRig) setUp(ctx context.Context, url string) {
	t := r.t
	r.user, r.password = initialAdmin(ctx, t, r.m)
	login(t, r.client, r.base, r.user, r.password)
	for _, s := range cutStreams {
		addStream(t, r.client, r.base, s, url, segmentSeconds)
	}
}

// signIn keeps the session of an earlier boot if the database kept it,
// else logs in again; the guest may be slow to check a password with the
// full argon2 settings while it also records.
func (r *cutRig) signIn() {
	if code, _ := get(r.t, r.client, r.base+"/api/auth/verify"); code == http.StatusOK {
		return
	}
	login(r.t, &http.Client{Timeout: 90 * time.Second, Jar: r.client.Jar}, r.base, r.user, r.password)
}

// guestClockOffset reads the guest's clock to the microsecond (busybox
// adjtimex) between two host readings; of three tries the one with the
// shortest round trip counts, and half that round trip is its uncertainty.
func guestClockOffset(ctx context.Context, t *testing.T, m *Machine) (offset, fuzz time.Duration) {
	t.Helper()
	re := regexp.MustCompile(`(?s)status:\s+(\d+).*time\.tv_sec:\s+(\d+).*time\.tv_usec:\s+(\d+)`)
	fuzz = time.Duration(math.MaxInt64)
	for range 3 {
		before := time.Now()
		out, _, err := m.Run(ctx, "adjtimex")
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		sub := re.FindStringSubmatch(out)
		if sub == nil {
			t.Fatalf("adjtimex on the console: no time in\n%s", out)
		}
		status, _ := strconv.ParseInt(sub[1], 10, 64)
		sec, _ := strconv.ParseInt(sub[2], 10, 64)
		frac, _ := strconv.ParseInt(sub[3], 10, 64)
		const staNano = 0x2000 // the kernel reports nanoseconds in tv_usec
		if status&staNano == 0 {
			frac *= 1000
		}
		guest := time.Unix(sec, frac)
		if half := after.Sub(before) / 2; half < fuzz {
			fuzz, offset = half, guest.Sub(before.Add(half))
		}
	}
	return offset, fuzz
}

func (r *cutRig) recordings() []apiRecording {
	return listRecordings(r.t, r.client, r.base, cutStreams)
}

// waitRecording waits until each stream has a recording of this boot open
// and its file has grown on the disk between two looks.
func (r *cutRig) waitRecording(ctx context.Context) {
	t := r.t
	seen := map[int64]bool{}
	if r.cut != nil {
		for _, rec := range r.cut.recordings {
			seen[rec.ID] = true
		}
	}
	sizes := map[string]int64{} // file -> size at the last look
	grew := map[string]bool{}   // stream -> its open file grew
	deadline := time.Now().Add(90 * time.Second)
	for {
		open := map[string]string{}
		for _, rec := range r.recordings() {
			if !rec.IsComplete && !seen[rec.ID] {
				open[rec.Stream] = rec.FilePath
			}
		}
		for s, f := range open {
			n := r.fileSize(ctx, f)
			if last, ok := sizes[f]; ok && n > last {
				grew[s] = true
			}
			sizes[f] = n
		}
		if len(grew) == len(cutStreams) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _, _ := r.m.Run(ctx, "tail -n 40 "+guestDataDir+"/log/lightnvr.log")
			t.Fatalf("streams %v not both recording within 90 s (open: %v, grown: %v); the daemon's log:\n%s", cutStreams, open, grew, log)
		}
		time.Sleep(time.Second)
	}
}

// fileSize is the size of a file on the guest, -1 if it is not there.
func (r *cutRig) fileSize(ctx context.Context, path string) int64 {
	out, _, err := r.m.Run(ctx, "stat -c 'size=%s' "+path+" 2>/dev/null")
	if err != nil {
		r.t.Fatal(err)
	}
	m := regexp.MustCompile(`size=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// powerCut waits a random moment, kills qemu and reads the disk as the cut
// left it.
func (r *cutRig) powerCut(ctx context.Context, n int) {
	t := r.t
	wait := time.Second + time.Duration(r.rng.Int64N(int64(8*time.Second)))
	// Measured again now: the guest's clock may drift from the host's
	// under emulation between the boot and the cut.
	bootOffset := r.offset
	r.offset, r.fuzz = guestClockOffset(ctx, t, r.m)
	select {
	case <-time.After(wait):
	case <-r.m.Exited():
		t.Fatalf("qemu exited before power cut %d", n)
	}
	at := time.Now()
	r.m.Kill()
	cut := &cutState{n: n, guest: at.Add(r.offset), fuzz: r.fuzz, jumped: r.offset - bootOffset}
	t.Logf("power cut %d/%d: %.1f s after both streams recorded, at %s guest time (guest clock %+.3f s ±%.3f from the host's, %+.3f s at boot)",
		n, recordingCuts, wait.Seconds(), cut.guest.Format("15:04:05.000"), r.offset.Seconds(), r.fuzz.Seconds(), bootOffset.Seconds())
	r.readDisk(ctx, cut)
	r.cut = cut
}

// readDisk checks a copy of the disk as the cut left it: e2fsck replays the
// journal (what the kernel does at mount) and then must find nothing to
// repair; the database (with its WAL) is copied out and read for the rows
// and the precise start of each recording.
func (r *cutRig) readDisk(ctx context.Context, cut *cutState) {
	t := r.t
	dir := t.TempDir()
	img := filepath.Join(dir, "after-cut.img")
	copySparse(t, r.img.DataDisk, img)
	defer os.Remove(img)
	if out, err := replayJournal(img); err != nil {
		t.Fatalf("cut %d: journal replay: %v\n%s", cut.n, err, out)
	}
	if out, err := exec.Command("e2fsck", "-f", "-n", img).CombinedOutput(); err != nil {
		t.Errorf("cut %d: the data disk needs repair beyond its journal: %v\n%s", cut.n, err, out)
	}
	if out, err := exec.Command("debugfs", "-R", "rdump /db "+dir, img).CombinedOutput(); err != nil {
		t.Fatalf("cut %d: copy the database out: %v\n%s", cut.n, err, out)
	}
	d, err := db.Open(ctx, filepath.Join(dir, "db", "lightnvr.db"))
	if err != nil {
		t.Fatalf("cut %d: the database after the cut: %v", cut.n, err)
	}
	defer d.Close()
	if res, err := d.QuickCheck(ctx); err != nil || res != "ok" {
		t.Errorf("cut %d: database quick_check after the cut: %q %v", cut.n, res, err)
	}
	cut.startUS = map[int64]int64{}
	for _, s := range cutStreams {
		recs, err := db.StreamRecordings(ctx, d, s)
		if err != nil {
			t.Fatal(err)
		}
		var last []string
		for _, rec := range recs {
			cut.recordings = append(cut.recordings, rec)
			cut.maxID = max(cut.maxID, rec.ID)
			if !rec.IsComplete {
				cut.incomplete++
			}
			if ix, err := db.GetRecordingIndex(ctx, d, rec.ID); err == nil {
				cut.startUS[rec.ID] = ix.StartUS
			}
			last = append(last, fmt.Sprintf("%d complete=%v %s", rec.ID, rec.IsComplete, filepath.Base(rec.FilePath)))
		}
		if len(recs) > 0 {
			dir := strings.TrimPrefix(filepath.Dir(recs[len(recs)-1].FilePath), guestDataDir)
			ls, _ := exec.Command("debugfs", "-R", "ls -l "+dir, img).CombinedOutput()
			t.Logf("cut %d: %s on the disk: rows %s\nfiles:\n%s", cut.n, s, strings.Join(last[max(0, len(last)-3):], "; "), lastLines(string(ls), 4))
		}
	}
}

// checkAfterCut checks, after the boot that followed a cut, what the
// daemon's start-up recovery made of it.
func (r *cutRig) checkAfterCut(ctx context.Context) {
	t, cut := r.t, r.cut
	now := map[int64]apiRecording{}
	for _, rec := range r.recordings() {
		now[rec.ID] = rec
	}
	newest := map[string]*db.Recording{} // per stream, the last recording that survived the cut
	for _, rec := range cut.recordings {
		got, ok := now[rec.ID]
		switch {
		case !ok && rec.IsComplete:
			t.Errorf("cut %d: recording %d (%s, complete before the cut) is gone", cut.n, rec.ID, rec.FilePath)
		case !ok:
			t.Logf("cut %d: recording %d held no whole part and was removed by the recovery", cut.n, rec.ID)
		case !got.IsComplete:
			t.Errorf("cut %d: recording %d (%s) still incomplete after the start-up recovery", cut.n, rec.ID, rec.FilePath)
		default:
			// By id, not time: the guest's clock may jump.
			if last := newest[rec.StreamName]; last == nil || rec.ID > last.ID {
				newest[rec.StreamName] = rec
			}
		}
	}
	lost := make([]string, 0, len(cutStreams))
	for _, s := range cutStreams {
		lost = append(lost, fmt.Sprintf("%s %.2f s", s, r.lost(newest[s])))
	}
	checked := r.checkPlayable(now, cut.maxID, cut.steady())
	r.checkFilesHaveRows(ctx)
	t.Logf("power cut %d/%d at %s: lost %s; %d rows left incomplete, all completed by the recovery; %d recordings checked (%d played so far); e2fsck clean",
		cut.n, recordingCuts, cut.guest.Format("15:04:05.000"), strings.Join(lost, ", "), cut.incomplete, checked, len(r.played))
}

// lost returns how much video before the cut the stream's last surviving
// recording lacks: the cut's moment minus the recording's precise end (its
// start from the part index plus the duration of the repaired file).
func (r *cutRig) lost(rec *db.Recording) float64 {
	t, cut := r.t, r.cut
	if rec == nil {
		t.Errorf("cut %d: a stream has no recording left", cut.n)
		return math.NaN()
	}
	if !cut.steady() {
		// The recorder stamps frames from the guest's clock at the stream's
		// start, so after a jump its times and the cut's no longer compare.
		t.Logf("cut %d: %s's loss not measured: the guest's clock jumped %+.3f s before the cut (an emulation artefact)",
			cut.n, rec.StreamName, cut.jumped.Seconds())
		return math.NaN()
	}
	f := r.download(rec.ID)
	startUS, ok := cut.startUS[rec.ID]
	if !ok {
		// No index yet: the row's whole seconds, so the loss may read up to 1 s high.
		startUS = rec.StartTime * 1e6
		t.Logf("cut %d: recording %d had no part index; its start is known to the second", cut.n, rec.ID)
	}
	end := time.UnixMicro(startUS).Add(time.Duration(testkit.FFprobe(t, f).Duration() * float64(time.Second)))
	lost := cut.guest.Sub(end)
	t.Logf("cut %d: %s recording %d starts %s, ends %s on the guest's clock; cut at %s",
		cut.n, rec.StreamName, rec.ID, time.UnixMicro(startUS).Format("15:04:05.000"), end.Format("15:04:05.000"), cut.guest.Format("15:04:05.000"))
	switch {
	case lost > time.Duration(maxLostSeconds*float64(time.Second))+cut.fuzz:
		t.Errorf("cut %d: %s lost %.2f s of video (recording %d ends at %s, the cut was at %s); at most %.1f s (±%.3f s clock offset) may be lost",
			cut.n, rec.StreamName, lost.Seconds(), rec.ID, end.Format("15:04:05.000"), cut.guest.Format("15:04:05.000"), maxLostSeconds, cut.fuzz.Seconds())
	case lost < -cut.fuzz-wallAhead:
		t.Errorf("cut %d: %s recording %d ends at %s, %.2f s after the cut: the clocks are not what the test measured",
			cut.n, rec.StreamName, rec.ID, end.Format("15:04:05.000"), -lost.Seconds())
	}
	return lost.Seconds()
}

// steady reports whether the guest's clock held still (against the host's)
// from the boot to the cut, so that times the recorder wrote compare.
func (c *cutState) steady() bool { return c.jumped.Abs() <= steadyClock }

// checkPlayable downloads every complete recording up to row maxID not
// played yet and decodes it to its end; with a steady clock its length
// must match its frames and its row. It returns how many it checked.
func (r *cutRig) checkPlayable(recs map[int64]apiRecording, maxID int64, steady bool) int {
	t := r.t
	n := 0
	for id, rec := range recs {
		if !rec.IsComplete || r.played[id] || id > maxID {
			continue
		}
		f := r.download(id)
		if errs := testkit.DecodeErrors(t, f); errs != "" {
			t.Errorf("recording %d (%s) does not decode to its end:\n%s", id, rec.FilePath, errs)
		}
		dur := testkit.FFprobe(t, f).Duration()
		frames := testkit.VideoPackets(t, f)
		os.Remove(f)
		r.played[id] = true
		n++
		if !steady {
			continue // a jump of the clock stretches the recorder's timeline
		}
		// Every frame is in the file: as many as the duration holds.
		if math.Abs(float64(frames)-dur*srcFPS) > 2 {
			t.Errorf("recording %d (%s): %d frames in %.2f s at %d fps", id, rec.FilePath, frames, dur, srcFPS)
		}
		// The row says how long it is to the second (start truncated).
		if rowDur := float64(rec.EndUnix - rec.StartUnix); math.Abs(rowDur-dur) > 1.5 {
			t.Errorf("recording %d (%s): the file lasts %.2f s, its row %.0f s", id, rec.FilePath, dur, rowDur)
		}
	}
	return n
}

// download fetches a recording through the daemon's API into a file.
func (r *cutRig) download(id int64) string {
	f, _ := download(r.t, r.client, fmt.Sprintf("%s/api/recordings/download/%d", r.base, id))
	return f
}

// checkFilesHaveRows lists the recordings on the guest's disk: every file
// has a row and every row its file, so the cut left nothing behind that
// nobody knows or points at nothing.
func (r *cutRig) checkFilesHaveRows(ctx context.Context) {
	t := r.t
	out, rc, err := r.m.Run(ctx, "find "+guestDataDir+"/recordings -type f -name '*.mp4'")
	if err != nil || rc != 0 {
		t.Fatalf("list the recordings on the guest: rc %d %v\n%s", rc, err, out)
	}
	files := map[string]bool{}
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "/") {
			files[l] = true
		}
	}
	rows := r.recordings() // after the listing: a file made since has its row by now
	for _, rec := range rows {
		if rec.IsComplete && !files[rec.FilePath] {
			t.Errorf("recording %d has no file %s", rec.ID, rec.FilePath)
		}
		delete(files, rec.FilePath)
	}
	for f := range files {
		t.Errorf("file %s on the disk has no recordings row", f)
	}
}

// copySparse copies a disk image keeping its holes (the data disk is 1 GiB,
// mostly unwritten).
func copySparse(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "--sparse=always", from, to).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", from, err, out)
	}
}

// replayJournal replays the journal of the ext4 image img, as the kernel
// does at mount, and repairs nothing else; the output is e2fsck's.
func replayJournal(img string) ([]byte, error) {
	out, err := exec.Command("e2fsck", "-E", "journal_only", "-y", img).CombinedOutput()
	if exitCode(err) <= 1 { // 1 is "fixed": the journal replayed
		err = nil
	}
	return out, err
}

// exitCode is a command's exit status: 0 for success, -1 if it did not run.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
