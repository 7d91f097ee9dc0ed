package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// The recorders a run compares, one phase each, in this order.
const (
	phFFSegment = "ffmpeg -c copy → segment MP4"
	phFFFrag    = "ffmpeg → fMP4"
	phMediaMTX  = "mediamtx fMP4"
	phServe     = "lightnvr serve"
	phInProcess = "lightnvr pipeline in-process"
)

// phaseResult is one recorder recording N streams. CPU and memory are
// taken over the same window for every recorder, once every stream has a
// file: start-up, connection and the final flush are left out.
type phaseResult struct {
	Name       string
	Window     time.Duration
	CPU        time.Duration // user+sys of the recording processes over the window
	End        memInfo       // summed over those processes at the window's end
	Side       string        // what SideCPU and SideEnd measure, "" for nothing
	SideCPU    time.Duration // processes the recorder needs but the issue does not count (go2rtc)
	SideEnd    memInfo
	LoadgenCPU time.Duration // the camera farm's CPU over the window
	Pace       float64       // frames the farm sent / frames real time asks for
	Files      int
	Clean      int       // files ffprobe -v error read without a word
	Media      []float64 // recorded media seconds per stream
	Problems   []string
	Rec        *recordReport // the in-process pipeline's own report
}

type runResult struct {
	Streams int
	Run     int // 1, 2, … when a count is measured more than once (-runs); 0 otherwise
	Phases  []phaseResult
}

// phase is how one recorder is started on the run's streams.
type phase struct {
	name  string
	dir   string // its recordings, each stream's under a path element camI
	start func(ctx context.Context) ([]*child, error)
	side  func(procs []*child) (string, []int) // processes measured apart
	logs  []string                             // logs whose lines badLine flags are problems
	bad   func(line string) bool
	after func(pr *phaseResult) error // once the processes are gone
}

type runOpts struct {
	dur      time.Duration
	dir      string
	self     string
	segment  time.Duration
	noSync   bool
	profDir  string
	fps      float64
	nvrBin   string
	go2rtc   string
	mediamtx string
	// env is the environment of lightnvr serve and the in-process
	// pipeline: GOMAXPROCS as the appliance sets it.
	env []string
	// keyGap is the sample's longest keyframe interval.
	keyGap time.Duration
}

func runCmd(args []string) error {
	fl := flag.NewFlagSet("run", flag.ExitOnError)
	streams := fl.String("streams", "1,8,32", "comma-separated stream counts, one run each")
	dur := fl.Duration("duration", 60*time.Second, "measured window per run and per recorder")
	dir := fl.String("dir", "", "work directory (default a new temporary one, removed at the end)")
	keep := fl.Bool("keep", false, "keep the recordings and logs")
	sample := fl.String("sample", "", "MPEG-TS clip to serve (default: ffmpeg makes 10 s of 1080p, 4 Mbit/s, GOP 50, 25 fps H.264)")
	segment := fl.Duration("segment", 900*time.Second, "segment duration for every recorder")
	noSync := fl.Bool("nosync", false, "the in-process pipeline without the per-part fdatasync (production syncs)")
	prof := fl.String("profile-dir", "", "write CPU and heap profiles of the in-process pipeline here (lightnvr-<N>.cpu.pprof, lightnvr-<N>.heap.pprof)")
	nvrBin := fl.String("lightnvr", "", "measure `lightnvr serve` recording through go2rtc with this binary, and its idle RSS")
	g2rBin := fl.String("go2rtc", "bin/go2rtc", "go2rtc binary for the lightnvr serve phase")
	mtxBin := fl.String("mediamtx", "", "also measure mediamtx's fMP4 recorder with this binary")
	procs := fl.Int("gomaxprocs", 1, "GOMAXPROCS of lightnvr serve and the in-process pipeline; 1 as the appliance runs lightnvr (rootfs-overlay/etc/default/lightnvr), 0 leaves Go's default (the machine's CPUs)")
	mipsBin := fl.String("mipsle", "", "also measure the idle RSS of this mipsle lightnvr binary under -qemu")
	qemu := fl.String("qemu", "qemu-mipsel-static", "emulator command for -mipsle")
	runs := fl.Int("runs", 1, "measure each stream count this many times; with more than one, the summary gives every recorder's spread over the runs")
	_ = fl.Parse(args)
	if *runs < 1 {
		return fmt.Errorf("-runs: %d, want 1 or more", *runs)
	}

	var counts []int
	for _, s := range strings.Split(*streams, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-streams: bad count %q", s)
		}
		counts = append(counts, n)
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is required: %w", tool, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o := runOpts{dur: *dur, self: self, segment: *segment, noSync: *noSync}
	if *procs > 0 {
		o.env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(*procs))
		fmt.Printf("lightnvr serve and the in-process pipeline run with GOMAXPROCS=%d\n", *procs)
	}
	for _, b := range []struct {
		dst  *string
		path string
	}{{&o.nvrBin, *nvrBin}, {&o.go2rtc, *g2rBin}, {&o.mediamtx, *mtxBin}, {&o.profDir, *prof}} {
		if b.path != "" {
			if *b.dst, err = filepath.Abs(b.path); err != nil {
				return err
			}
		}
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "nvr-bench-"); err != nil {
			return err
		}
		if !*keep {
			defer func() { _ = os.RemoveAll(work) }()
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if o.profDir != "" {
		if err := os.MkdirAll(o.profDir, 0o755); err != nil {
			return err
		}
	}

	path := *sample
	if path == "" {
		path = filepath.Join(work, "sample.ts")
		spec := testkit.SampleSpec{Size: "1920x1080", FPS: 25, GOP: 50, Bitrate: "4M", Codec: "h264", Seconds: 10}
		fmt.Printf("making sample: ffmpeg %s\n", strings.Join(spec.FFmpegArgs(path), " "))
		if out, err := exec.Command("ffmpeg", spec.FFmpegArgs(path)...).CombinedOutput(); err != nil {
			return fmt.Errorf("ffmpeg sample: %w\n%s", err, out)
		}
	}
	smp, err := loadgen.LoadSample(path)
	if err != nil {
		return err
	}
	var sampleBytes int
	for _, v := range smp.Video {
		for _, n := range v.AU {
			sampleBytes += len(n)
		}
	}
	loopS := float64(smp.Duration) / 90000
	fmt.Printf("sample: %d frames, %.1f s, %.2f Mbit/s, frame %d/90000 s\n", len(smp.Video), loopS,
		float64(sampleBytes)*8/loopS/1e6, smp.FrameDuration)

	o.fps = 90000 / float64(smp.FrameDuration)
	o.keyGap = keyframeGap(smp)
	var results []runResult
	for _, n := range counts {
		for k := 1; k <= *runs; k++ {
			run := 0 // a single run is not numbered
			if *runs > 1 {
				run = k
			}
			o.dir = filepath.Join(work, "n"+strconv.Itoa(n))
			if run > 0 {
				o.dir += "-run" + strconv.Itoa(run)
			}
			r, err := runOne(context.Background(), smp, n, o)
			if err != nil {
				return fmt.Errorf("%d streams: %w", n, err)
			}
			r.Run = run
			results = append(results, r)
			printResults(os.Stdout, []runResult{r})
			if !*keep {
				_ = os.RemoveAll(o.dir) // 32 streams leave about 1 GB a recorder
			}
		}
	}

	var idle []idleResult
	if *nvrBin != "" {
		r, err := measureIdle(context.Background(), *nvrBin, "", o.env, 5*time.Second)
		if err != nil {
			return fmt.Errorf("idle %s: %w", *nvrBin, err)
		}
		idle = append(idle, r)
	}
	if *mipsBin != "" {
		r, err := measureIdle(context.Background(), *mipsBin, *qemu, o.env, 5*time.Second)
		if err != nil {
			return fmt.Errorf("idle %s: %w", *mipsBin, err)
		}
		idle = append(idle, r)
	}
	fmt.Println("\n== summary ==")
	printCPUTable(os.Stdout, results)
	fmt.Println()
	if *runs > 1 {
		printSpread(os.Stdout, spreads(results))
		fmt.Println()
	}
	printResults(os.Stdout, results)
	if len(idle) > 0 {
		fmt.Println()
		printIdle(os.Stdout, idle)
	}
	if *keep {
		fmt.Println("\nwork directory kept:", work)
	}
	return nil
}

// runOne serves n streams and records them with each recorder in turn,
// then checks every file.
func runOne(ctx context.Context, smp *loadgen.Sample, n int, o runOpts) (runResult, error) {
	res := runResult{Streams: n}
	lg, err := loadgen.Start(loadgen.Config{Addr: "127.0.0.1:0", Streams: n, Sample: smp})
	if err != nil {
		return res, err
	}
	defer lg.Close()
	prefix := "rtsp://" + lg.Addr() + "/cam"
	phases := []phase{
		ffmpegPhase(phFFSegment, filepath.Join(o.dir, "ffmpeg-mp4"), prefix, n, o.segment, "movflags=+faststart"),
		// Fragments of at most 1 s, as the other fMP4 recorders' parts.
		ffmpegPhase(phFFFrag, filepath.Join(o.dir, "ffmpeg-fmp4"), prefix, n, o.segment,
			"movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000"),
	}
	if o.mediamtx != "" {
		phases = append(phases, mediamtxPhase(filepath.Join(o.dir, "mediamtx"), prefix, n, o))
	}
	if o.nvrBin != "" {
		phases = append(phases, servePhase(filepath.Join(o.dir, "serve"), prefix, n, o))
	}
	phases = append(phases, inProcessPhase(filepath.Join(o.dir, "inprocess"), prefix, n, o))
	for _, ph := range phases {
		pr, err := measurePhase(ctx, lg, n, o, ph)
		if err != nil {
			return res, fmt.Errorf("%s: %w", ph.name, err)
		}
		res.Phases = append(res.Phases, pr)
	}
	return res, nil
}

// ffmpegArgs is what LightNVR (C) does for a recording: remux the RTSP
// stream over TCP to MP4 segments, here with the given movflags.
func ffmpegArgs(url, dir string, segment time.Duration, movflags string) []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
		"-map", "0:v", "-c", "copy", "-f", "segment", "-segment_time", strconv.Itoa(int(segment.Seconds())),
		"-segment_format", "mp4", "-segment_format_options", movflags, "-reset_timestamps", "1",
		filepath.Join(dir, "out%03d.mp4")}
}

// ffmpegPhase is one ffmpeg process a stream, each with its own log.
func ffmpegPhase(name, dir, prefix string, n int, segment time.Duration, movflags string) phase {
	ph := phase{name: name, dir: dir, bad: func(string) bool { return true }}
	for i := range n {
		ph.logs = append(ph.logs, filepath.Join(dir, "cam"+strconv.Itoa(i), "ffmpeg.log"))
	}
	fmt.Printf("%s ×%d: ffmpeg %s\n", name, n, strings.Join(ffmpegArgs(prefix+"0", filepath.Join(dir, "cam0"), segment, movflags), " "))
	ph.start = func(ctx context.Context) ([]*child, error) {
		var procs []*child
		for i := range n {
			out := filepath.Join(dir, "cam"+strconv.Itoa(i))
			cmd := exec.CommandContext(ctx, "ffmpeg", ffmpegArgs(prefix+strconv.Itoa(i), out, segment, movflags)...)
			c, err := startLogged(cmd, ph.logs[i])
			if err != nil {
				return procs, err
			}
			procs = append(procs, c)
		}
		return procs, nil
	}
	return ph
}

// mediamtxPhase is mediamtx pulling each stream over RTSP/TCP as a path
// source and recording it to fMP4 with 1 s parts, its servers all off.
// The keys are those of mediamtx's documented mediamtx.yml (rtspTransport
// is the name of releases that build with gortsplib v5).
func mediamtxPhase(dir, prefix string, n int, o runOpts) phase {
	conf := filepath.Join(dir, "mediamtx.yml")
	logPath := filepath.Join(dir, "mediamtx.log")
	fmt.Printf("%s: %s %s\n", phMediaMTX, o.mediamtx, conf)
	return phase{name: phMediaMTX, dir: dir, logs: []string{logPath}, bad: func(string) bool { return true },
		start: func(ctx context.Context) ([]*child, error) {
			if err := os.WriteFile(conf, []byte(mediamtxConfig(dir, prefix, n, o.segment)), 0o600); err != nil {
				return nil, err
			}
			cmd := exec.CommandContext(ctx, o.mediamtx, conf)
			cmd.Dir = dir
			c, err := startLogged(cmd, logPath)
			return []*child{c}, err
		},
	}
}

func mediamtxConfig(dir, prefix string, n int, segment time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, `logLevel: warn
logDestinations: [stdout]
api: false
metrics: false
pprof: false
playback: false
rtsp: false
rtmp: false
hls: false
webrtc: false
srt: false
pathDefaults:
  rtspTransport: tcp
  record: true
  recordPath: %s/%%path/%%Y-%%m-%%d_%%H-%%M-%%S-%%f
  recordFormat: fmp4
  recordPartDuration: 1s
  recordSegmentDuration: %s
  recordDeleteAfter: 0s
paths:
`, dir, segment)
	for i := range n {
		fmt.Fprintf(&b, "  cam%d:\n    source: %s%d\n", i, prefix, i)
	}
	return b.String()
}

// startLogged starts cmd with its output in logPath (whose directory it makes).
func startLogged(cmd *exec.Cmd, logPath string) (*child, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	return startChild(cmd)
}

// inProcessPhase is `nvr-bench record`: our pipeline alone, no daemon, no
// go2rtc. It records until the interrupt and then prints its report.
func inProcessPhase(dir, prefix string, n int, o runOpts) phase {
	args := []string{"record", "-url", prefix, "-n", strconv.Itoa(n), "-dir", dir,
		"-duration", "1000h", "-segment", o.segment.String()}
	if o.noSync {
		args = append(args, "-nosync")
	}
	if o.profDir != "" {
		base := filepath.Join(o.profDir, "lightnvr-"+strconv.Itoa(n))
		args = append(args, "-cpuprofile", base+".cpu.pprof", "-memprofile", base+".heap.pprof")
	}
	fmt.Printf("%s: %s %s\n", phInProcess, o.self, strings.Join(args, " "))
	var stdout bytes.Buffer
	return phase{name: phInProcess, dir: dir, logs: []string{filepath.Join(dir, "lightnvr.log")}, bad: warnLine,
		start: func(ctx context.Context) ([]*child, error) {
			cmd := exec.CommandContext(ctx, o.self, args...)
			cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, os.Stderr, o.env
			c, err := startChild(cmd)
			return []*child{c}, err
		},
		after: func(pr *phaseResult) error {
			pr.Rec = &recordReport{}
			if err := json.Unmarshal(stdout.Bytes(), pr.Rec); err != nil {
				return fmt.Errorf("report %q: %w", stdout.String(), err)
			}
			return nil
		}}
}

func warnLine(l string) bool {
	return strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")
}

// measurePhase starts the recorder, waits until every stream has a file,
// measures the window, stops the recorder and checks its files.
func measurePhase(ctx context.Context, lg *loadgen.Server, n int, o runOpts, ph phase) (phaseResult, error) {
	pr := phaseResult{Name: ph.name}
	if err := os.MkdirAll(ph.dir, 0o755); err != nil {
		return pr, err
	}
	// The phase before left up to gigabytes of recordings in the page
	// cache; written back during this phase's window they would slow its
	// disk, and only its. Every phase starts with the cache clean.
	syscall.Sync()
	procs, err := ph.start(ctx)
	if err != nil {
		stopAll(procs, &pr)
		return pr, err
	}
	// lightnvr serve starts its streams one after another, each once the
	// one before has its first keyframe: 32 streams of a 2 s GOP take a
	// minute to start.
	if err := waitFiles(ph.dir, n, 60*time.Second+time.Duration(n)*o.keyGap); err != nil {
		pr.Problems = append(pr.Problems, err.Error())
	}
	var pids, side []int
	for _, c := range procs {
		pids = append(pids, c.cmd.Process.Pid)
	}
	if ph.side != nil {
		pr.Side, side = ph.side(procs)
	}
	frames := func() uint64 {
		var f uint64
		for i := range n {
			f += lg.Stats(i).VideoFrames
		}
		return f
	}
	cpu0, side0 := cpuSum(pids, &pr), cpuSum(side, &pr)
	ru0, f0, t0 := selfRusage(), frames(), time.Now()
	time.Sleep(o.dur)
	cpu1, side1 := cpuSum(pids, &pr), cpuSum(side, &pr)
	ru1, f1 := selfRusage(), frames()
	pr.Window = time.Since(t0)
	pr.CPU, pr.SideCPU = cpu1-cpu0, side1-side0
	pr.LoadgenCPU = cpuTime(&ru1) - cpuTime(&ru0)
	pr.Pace = float64(f1-f0) / (o.fps * pr.Window.Seconds() * float64(n))
	pr.End, pr.SideEnd = memSum(pids, &pr), memSum(side, &pr)

	stopAll(procs, &pr)
	for _, l := range ph.logs {
		b, _ := os.ReadFile(l)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line != "" && ph.bad(line) {
				pr.Problems = append(pr.Problems, l+": "+line)
				break
			}
		}
	}
	if ph.after != nil {
		if err := ph.after(&pr); err != nil {
			return pr, err
		}
	}
	return pr, probeAll(ph.dir, n, &pr)
}

// stopAll interrupts every process at once (ffmpeg then writes its
// trailer, the others close their segments) and waits for them.
func stopAll(procs []*child, pr *phaseResult) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range procs {
		if c == nil {
			continue
		}
		wg.Go(func() {
			err := c.stop(syscall.SIGINT, 60*time.Second)
			// ffmpeg ends with 255 after SIGINT: exiting "on signal" is what
			// we asked for, the files are checked by ffprobe.
			var ee *exec.ExitError
			if err != nil && (!errors.As(err, &ee) || filepath.Base(c.cmd.Path) != "ffmpeg") {
				mu.Lock()
				pr.Problems = append(pr.Problems, fmt.Sprintf("%s exit: %v", filepath.Base(c.cmd.Path), err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func cpuSum(pids []int, pr *phaseResult) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		d, err := procCPU(pid)
		if err != nil {
			pr.Problems = append(pr.Problems, err.Error())
		}
		sum += d
	}
	return sum
}

func memSum(pids []int, pr *phaseResult) memInfo {
	var sum memInfo
	for _, pid := range pids {
		m, err := readMem(strconv.Itoa(pid))
		if err != nil {
			pr.Problems = append(pr.Problems, err.Error())
		}
		sum.add(m)
	}
	return sum
}

// keyframeGap is the longest time from one keyframe of the sample to the
// next, across the loop's end too.
func keyframeGap(smp *loadgen.Sample) time.Duration {
	var keys []int64
	for _, v := range smp.Video {
		if v.Key {
			keys = append(keys, v.DTS)
		}
	}
	if len(keys) == 0 {
		return 0
	}
	gap := keys[0] + smp.Duration - keys[len(keys)-1]
	for i := 1; i < len(keys); i++ {
		gap = max(gap, keys[i]-keys[i-1])
	}
	return time.Duration(gap) * time.Second / 90000
}

// waitFiles waits until each of the n streams has an .mp4 under dir.
func waitFiles(dir string, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		have := make([]bool, n)
		missing := n
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if i := streamIndex(p); err == nil && !d.IsDir() && strings.HasSuffix(p, ".mp4") && i >= 0 && i < n && !have[i] {
				have[i] = true
				missing--
			}
			return nil
		})
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d streams had no file after %s; measured anyway", missing, n, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type probeOut struct {
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

// probeAll checks every .mp4 under dir with ffprobe -v error (demuxing every
// packet) and sums the media time per stream directory camI.
func probeAll(dir string, n int, pr *phaseResult) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mp4") {
			files = append(files, p)
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	pr.Media = make([]float64, n)
	pr.Files = len(files)
	type probed struct {
		path  string
		dur   float64
		clean bool
		msg   string
	}
	out := make([]probed, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command("ffprobe", "-v", "error", "-count_packets", "-show_entries", "format=duration", "-of", "json", f)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			var po probeOut
			if err == nil {
				err = json.Unmarshal(b, &po)
			}
			d, _ := strconv.ParseFloat(po.Format.Duration, 64)
			msg := strings.TrimSpace(stderr.String())
			if err != nil && msg == "" {
				msg = err.Error()
			}
			out[i] = probed{path: f, dur: d, clean: err == nil && msg == "", msg: msg}
		})
	}
	wg.Wait()
	for _, p := range out {
		if p.clean {
			pr.Clean++
		} else {
			pr.Problems = append(pr.Problems, "ffprobe "+p.path+": "+firstLine([]byte(p.msg)))
		}
		if i := streamIndex(p.path); i >= 0 && i < n {
			pr.Media[i] += p.dur
		}
	}
	return nil
}

// streamIndex finds the camI element of a recording's path.
func streamIndex(p string) int {
	for _, el := range strings.Split(filepath.ToSlash(p), "/") {
		if s, ok := strings.CutPrefix(el, "cam"); ok {
			if i, err := strconv.Atoi(s); err == nil {
				return i
			}
		}
	}
	return -1
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

// perStreamMin is a phase's CPU in seconds per stream-minute of its window.
func perStreamMin(pr *phaseResult, n int, cpu time.Duration) float64 {
	if pr == nil || pr.Window <= 0 {
		return 0
	}
	return cpu.Seconds() / (float64(n) * pr.Window.Minutes())
}

func findPhase(r runResult, name string) *phaseResult {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// label is the stream count, and the run when there are several.
func (r runResult) label() string {
	if r.Run > 0 {
		return fmt.Sprintf("%d (run %d)", r.Streams, r.Run)
	}
	return strconv.Itoa(r.Streams)
}

// streams is "8 streams", and the run when there are several.
func (r runResult) streams() string {
	if r.Run > 0 {
		return fmt.Sprintf("%d streams (run %d)", r.Streams, r.Run)
	}
	return fmt.Sprintf("%d streams", r.Streams)
}

// ratios is "(0.71× seg, 0.90× fMP4)": x against the two ffmpeg recorders.
func ratios(r runResult, x float64, name string) string {
	var parts []string
	for _, ref := range []struct{ name, short string }{{phFFSegment, "seg"}, {phFFFrag, "fMP4"}} {
		if ref.name == name {
			break
		}
		if p := findPhase(r, ref.name); p != nil && p.CPU > 0 {
			v := perStreamMin(p, r.Streams, p.CPU)
			parts = append(parts, fmt.Sprintf("%.2f× %s", x/v, ref.short))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// printCPUTable prints the table: CPU s per stream-minute of every
// recorder, and its ratio to each ffmpeg recorder.
func printCPUTable(w io.Writer, rs []runResult) {
	names := []string{phFFSegment, phFFFrag, phMediaMTX, phServe, phInProcess}
	var cols []string
	for _, name := range names {
		for _, r := range rs {
			if findPhase(r, name) != nil {
				cols = append(cols, name)
				break
			}
		}
	}
	fmt.Fprintln(w, "CPU s per stream-minute over the window (each process's CPU clock, in ns; ratio to ffmpeg segment MP4 | fMP4); go2rtc under lightnvr serve is not counted, its own column")
	fmt.Fprintf(w, "| N streams | %s | go2rtc (for lightnvr serve) |\n", strings.Join(cols, " | "))
	fmt.Fprintf(w, "|---|%s---|\n", strings.Repeat("---|", len(cols)))
	for _, r := range rs {
		fmt.Fprintf(w, "| %s |", r.label())
		for _, name := range cols {
			pr := findPhase(r, name)
			if pr == nil {
				fmt.Fprint(w, " – |")
				continue
			}
			x := perStreamMin(pr, r.Streams, pr.CPU)
			fmt.Fprintf(w, " %.2f%s |", x, ratios(r, x, name))
		}
		if pr := findPhase(r, phServe); pr != nil {
			fmt.Fprintf(w, " %.2f |\n", perStreamMin(pr, r.Streams, pr.SideCPU))
		} else {
			fmt.Fprint(w, " – |\n")
		}
	}
}

// spreadRow is one recorder at one stream count over every run: the runs
// differ by the host's noise, and a ratio is taken within its own run, where
// ffmpeg met the same noise.
type spreadRow struct {
	Streams int
	Name    string
	CPU     []float64 // s per stream-minute, one per run
	Seg     []float64 // CPU / ffmpeg segment MP4's CPU in the same run; nil for that recorder itself
}

// spreads gathers the runs of each stream count, counts and recorders in
// the order they were measured.
func spreads(rs []runResult) []spreadRow {
	type key struct {
		streams int
		name    string
	}
	var rows []spreadRow
	at := map[key]int{}
	for _, r := range rs {
		seg := findPhase(r, phFFSegment)
		for i := range r.Phases {
			pr := &r.Phases[i]
			id := key{r.Streams, pr.Name}
			j, ok := at[id]
			if !ok {
				j = len(rows)
				at[id] = j
				rows = append(rows, spreadRow{Streams: r.Streams, Name: pr.Name})
			}
			x := perStreamMin(pr, r.Streams, pr.CPU)
			rows[j].CPU = append(rows[j].CPU, x)
			if pr.Name != phFFSegment && seg != nil && seg.CPU > 0 {
				rows[j].Seg = append(rows[j].Seg, x/perStreamMin(seg, r.Streams, seg.CPU))
			}
		}
	}
	return rows
}

// minMedMax is "min · median · max" of v.
func minMedMax(v []float64, format string) string {
	if len(v) == 0 {
		return "–"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf(format+" · "+format+" · "+format, s[0], med, s[len(s)-1])
}

func printSpread(w io.Writer, rows []spreadRow) {
	fmt.Fprintln(w, "spread over the runs: CPU s per stream-minute and its ratio to ffmpeg segment MP4 in the same run, min · median · max")
	fmt.Fprintln(w, "| N streams | recorder | runs | CPU s/str-min | × ffmpeg segment MP4 |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %d | %s | %d | %s | %s |\n", r.Streams, r.Name, len(r.CPU),
			minMedMax(r.CPU, "%.3f"), minMedMax(r.Seg, "%.2f×"))
	}
}

// printResults prints every phase's figures: CPU, memory at the window's
// end (whole recorder, and divided by the streams), the camera farm's
// load and pace, and what ffprobe said of the files.
func printResults(w io.Writer, rs []runResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "streams\trecorder\tprocs\twindow s\tCPU s/str-min\tRSS MB\tanon MB\tPSS MB\tRSS MB/stream\tanon MB/stream\tloadgen CPU s/str-min\tpace\tmedia/window mean,min\tclean files\t")
	row := func(r runResult, name string, procs int, pr *phaseResult, cpu time.Duration, m memInfo, files string) {
		d, n := pr.Window.Seconds(), r.Streams
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.3f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.3f\t%.3f\t%s\t%s\t\n",
			r.label(), name, procs, d, perStreamMin(pr, n, cpu), mb(m.RSS), mb(m.RSSAnon), mb(m.PSS),
			mb(m.RSS)/float64(n), mb(m.RSSAnon)/float64(n), perStreamMin(pr, n, pr.LoadgenCPU), pr.Pace,
			fmt.Sprintf("%.3f,%.3f", mean(pr.Media)/d, minOf(pr.Media)/d), files)
	}
	for _, r := range rs {
		for i := range r.Phases {
			pr := &r.Phases[i]
			procs := 1
			if strings.HasPrefix(pr.Name, "ffmpeg") {
				procs = r.Streams
			}
			row(r, pr.Name, procs, pr, pr.CPU, pr.End, fmt.Sprintf("%d/%d", pr.Clean, pr.Files))
			if pr.Side != "" {
				row(r, pr.Side+" (not counted)", 1, pr, pr.SideCPU, pr.SideEnd, "")
			}
		}
	}
	_ = tw.Flush()
	for _, r := range rs {
		for _, pr := range r.Phases {
			if rr := pr.Rec; rr != nil {
				fmt.Fprintf(w, "  %s: in-process pipeline over its whole span %.1f s wall, %.2f s CPU; RSS base %.1f MB (anon %.1f) → end %.1f MB (anon %.1f), +%.2f MB/stream; Go heap in use %.1f MB, from the OS %.1f MB, %d SQLite connections; frames %d, ingest drops %d, recorder drops %d, reconnects %d, not recording %d\n",
					r.streams(), rr.WallS, rr.CPUS, mb(rr.Base.RSS), mb(rr.Base.RSSAnon), mb(rr.End.RSS), mb(rr.End.RSSAnon),
					mb(rr.End.RSS-rr.Base.RSS)/float64(r.Streams), mb(rr.GoHeapInuse), mb(rr.GoSys), rr.DBConns,
					rr.Frames, rr.Drops, rr.RecDrops, rr.Reconnect, rr.NotRec)
			}
			for _, p := range pr.Problems {
				fmt.Fprintf(w, "  %s, %s: %s\n", r.streams(), pr.Name, p)
			}
		}
	}
}

func printIdle(w io.Writer, rs []idleResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "idle lightnvr serve, 0 streams\temulator\thealthy after\tVmRSS MB\tVmHWM MB\tRssAnon MB\tRssFile MB\t")
	for _, r := range rs {
		emu := r.Emu
		if emu == "" {
			emu = "native"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f s\t%.1f\t%.1f\t%.1f\t%.1f\t\n", r.Bin, emu, r.Healthy.Seconds(),
			mb(r.Mem.RSS), mb(r.Mem.HWM), mb(r.Mem.RSSAnon), mb(r.Mem.RSSFile))
	}
	_ = tw.Flush()
	for _, r := range rs {
		if r.Emu != "" {
			fmt.Fprintf(w, "  %s: the RSS is the emulator process's, guest and qemu together\n", r.Bin)
		}
	}
}
