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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// phaseResult is one recorder (LightNVR or ffmpeg) recording N streams.
type phaseResult struct {
	CPU        time.Duration // user+sys of the recording processes, whole lifetime (wait4)
	MaxRSS     int64         // KiB: peak RSS (wait4), summed over processes
	LoadgenCPU time.Duration // the camera farm's CPU during the phase
	Pace       float64       // frames the farm sent / frames real time asks for
	Files      int
	Clean      int       // files ffprobe -v error read without a word
	Media      []float64 // recorded media seconds per stream
	Problems   []string
	Rec        *recordReport // LightNVR only: its own report
	// End is ffmpeg's memory summed over its processes just before they
	// are stopped: most of an ffmpeg process's RSS is its shared
	// libraries (RssFile), which an in-process libavformat pays once.
	End memInfo
}

type runResult struct {
	Streams  int
	Duration time.Duration
	NVR, FF  phaseResult
}

type runOpts struct {
	dur     time.Duration
	dir     string
	self    string
	segment time.Duration
	noSync  bool
	profDir string
	fps     float64
}

func runCmd(args []string) error {
	fl := flag.NewFlagSet("run", flag.ExitOnError)
	streams := fl.String("streams", "1,8,32", "comma-separated stream counts, one run each")
	dur := fl.Duration("duration", 30*time.Second, "recording time per run and per recorder")
	dir := fl.String("dir", "", "work directory (default a new temporary one, removed at the end)")
	keep := fl.Bool("keep", false, "keep the recordings and logs")
	sample := fl.String("sample", "", "MPEG-TS clip to serve (default: ffmpeg makes 10 s of 1080p, 4 Mbit/s, GOP 50, 25 fps H.264)")
	segment := fl.Duration("segment", 900*time.Second, "segment duration for both recorders")
	noSync := fl.Bool("nosync", false, "LightNVR without the per-part fdatasync (production syncs)")
	prof := fl.String("profile-dir", "", "write CPU and heap profiles of the recording process here (lightnvr-<N>.cpu.pprof, lightnvr-<N>.heap.pprof)")
	nvrBin := fl.String("lightnvr", "", "also measure the idle RSS of this lightnvr binary")
	mipsBin := fl.String("mipsle", "", "also measure the idle RSS of this mipsle lightnvr binary under -qemu")
	qemu := fl.String("qemu", "qemu-mipsel-static", "emulator command for -mipsle")
	_ = fl.Parse(args)

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
	if *prof != "" {
		if *prof, err = filepath.Abs(*prof); err != nil {
			return err
		}
		if err := os.MkdirAll(*prof, 0o755); err != nil {
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

	o := runOpts{dur: *dur, self: self, segment: *segment, noSync: *noSync, profDir: *prof,
		fps: 90000 / float64(smp.FrameDuration)}
	var results []runResult
	for _, n := range counts {
		o.dir = filepath.Join(work, "n"+strconv.Itoa(n))
		r, err := runOne(context.Background(), smp, n, o)
		if err != nil {
			return fmt.Errorf("%d streams: %w", n, err)
		}
		results = append(results, r)
		printResults(os.Stdout, []runResult{r})
		if !*keep {
			_ = os.RemoveAll(o.dir) // 32 streams leave about 1 GB
		}
	}

	var idle []idleResult
	if *nvrBin != "" {
		r, err := measureIdle(context.Background(), *nvrBin, "", 5*time.Second)
		if err != nil {
			return fmt.Errorf("idle %s: %w", *nvrBin, err)
		}
		idle = append(idle, r)
	}
	if *mipsBin != "" {
		r, err := measureIdle(context.Background(), *mipsBin, *qemu, 5*time.Second)
		if err != nil {
			return fmt.Errorf("idle %s: %w", *mipsBin, err)
		}
		idle = append(idle, r)
	}
	fmt.Println("\n== summary ==")
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

// runOne serves n streams and records them for o.dur with LightNVR, then
// with n ffmpeg processes, then checks every file.
func runOne(ctx context.Context, smp *loadgen.Sample, n int, o runOpts) (runResult, error) {
	res := runResult{Streams: n, Duration: o.dur}
	lg, err := loadgen.Start(loadgen.Config{Addr: "127.0.0.1:0", Streams: n, Sample: smp})
	if err != nil {
		return res, err
	}
	defer lg.Close()
	prefix := "rtsp://" + lg.Addr() + "/cam"

	nvrDir := filepath.Join(o.dir, "lightnvr")
	if err := os.MkdirAll(nvrDir, 0o755); err != nil {
		return res, err
	}
	args := []string{"record", "-url", prefix, "-n", strconv.Itoa(n), "-dir", nvrDir,
		"-duration", o.dur.String(), "-segment", o.segment.String()}
	if o.noSync {
		args = append(args, "-nosync")
	}
	if o.profDir != "" {
		base := filepath.Join(o.profDir, "lightnvr-"+strconv.Itoa(n))
		args = append(args, "-cpuprofile", base+".cpu.pprof", "-memprofile", base+".heap.pprof")
	}
	fmt.Printf("\n[%d streams] lightnvr: %s %s\n", n, o.self, strings.Join(args, " "))
	var stdout bytes.Buffer
	err = measurePhase(lg, n, o.fps, &res.NVR, func() ([]*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, o.self, args...)
		cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
		return []*exec.Cmd{cmd}, cmd.Start()
	}, func([]*exec.Cmd) {}) // the child stops itself after -duration
	if err != nil {
		return res, fmt.Errorf("lightnvr: %w", err)
	}
	res.NVR.Rec = &recordReport{}
	if err := json.Unmarshal(stdout.Bytes(), res.NVR.Rec); err != nil {
		return res, fmt.Errorf("lightnvr report %q: %w", stdout.String(), err)
	}

	ffDir := filepath.Join(o.dir, "ffmpeg")
	fmt.Printf("[%d streams] ffmpeg ×%d: %s\n", n, n, strings.Join(ffmpegArgs(prefix+"0", filepath.Join(ffDir, "cam0"), o.segment), " "))
	var logs []*os.File
	defer func() {
		for _, f := range logs {
			_ = f.Close()
		}
	}()
	err = measurePhase(lg, n, o.fps, &res.FF, func() ([]*exec.Cmd, error) {
		var cmds []*exec.Cmd
		for i := range n {
			out := filepath.Join(ffDir, "cam"+strconv.Itoa(i))
			if err := os.MkdirAll(out, 0o755); err != nil {
				return cmds, err
			}
			logf, err := os.Create(filepath.Join(out, "ffmpeg.log"))
			if err != nil {
				return cmds, err
			}
			logs = append(logs, logf)
			cmd := exec.CommandContext(ctx, "ffmpeg", ffmpegArgs(prefix+strconv.Itoa(i), out, o.segment)...)
			cmd.Stdout, cmd.Stderr = logf, logf
			if err := cmd.Start(); err != nil {
				return cmds, fmt.Errorf("start ffmpeg: %w", err)
			}
			cmds = append(cmds, cmd)
		}
		return cmds, nil
	}, func(cmds []*exec.Cmd) {
		time.Sleep(o.dur)
		for _, c := range cmds {
			if m, err := readMem(strconv.Itoa(c.Process.Pid)); err == nil {
				res.FF.End.RSS += m.RSS
				res.FF.End.RSSAnon += m.RSSAnon
				res.FF.End.RSSFile += m.RSSFile
			}
		}
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGINT) // ffmpeg writes the trailer and exits
		}
	})
	if err != nil {
		return res, fmt.Errorf("ffmpeg: %w", err)
	}
	for _, f := range logs {
		if b, _ := os.ReadFile(f.Name()); len(bytes.TrimSpace(b)) > 0 {
			res.FF.Problems = append(res.FF.Problems, f.Name()+": "+firstLine(b))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(nvrDir, "lightnvr.log")); bytes.Contains(b, []byte("level=WARN")) || bytes.Contains(b, []byte("level=ERROR")) {
		res.NVR.Problems = append(res.NVR.Problems, "warnings in "+filepath.Join(nvrDir, "lightnvr.log"))
	}

	if err := probeAll(filepath.Join(nvrDir, "storage"), n, &res.NVR); err != nil {
		return res, err
	}
	if err := probeAll(ffDir, n, &res.FF); err != nil {
		return res, err
	}
	return res, nil
}

// ffmpegArgs is what LightNVR (C) does for a recording: remux the RTSP
// stream over TCP to regular MP4 segments with the moov moved to the front.
func ffmpegArgs(url, dir string, segment time.Duration) []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
		"-map", "0:v", "-c", "copy", "-f", "segment", "-segment_time", strconv.Itoa(int(segment.Seconds())),
		"-segment_format", "mp4", "-segment_format_options", "movflags=+faststart", "-reset_timestamps", "1",
		filepath.Join(dir, "out%03d.mp4")}
}

// measurePhase starts the recording processes, lets stop end them, waits
// for every one and sums their rusage, and measures the camera farm
// (this process) over the same span.
func measurePhase(lg *loadgen.Server, n int, fps float64, pr *phaseResult,
	start func() ([]*exec.Cmd, error), stop func([]*exec.Cmd)) error {
	frames := func() uint64 {
		var f uint64
		for i := range n {
			f += lg.Stats(i).VideoFrames
		}
		return f
	}
	ru0, f0, t0 := selfRusage(), frames(), time.Now()
	cmds, err := start()
	if err != nil {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		return err
	}
	stop(cmds)
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range cmds {
		wg.Go(func() {
			done := make(chan struct{})
			defer close(done)
			go func() {
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					_ = c.Process.Kill()
				}
			}()
			err := c.Wait()
			mu.Lock()
			defer mu.Unlock()
			// ffmpeg ends with 255 after SIGINT: exiting "on signal" is what
			// we asked for, the files are checked by ffprobe.
			var ee *exec.ExitError
			if err != nil && (!errors.As(err, &ee) || filepath.Base(c.Path) != "ffmpeg") {
				errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(c.Path), err))
			}
			if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
				pr.CPU += cpuTime(ru)
				pr.MaxRSS += int64(ru.Maxrss) // int32 on 32-bit targets
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	ru1 := selfRusage()
	pr.LoadgenCPU = cpuTime(&ru1) - cpuTime(&ru0)
	pr.Pace = float64(frames()-f0) / (fps * el.Seconds() * float64(n))
	return errors.Join(errs...)
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

func printResults(w io.Writer, rs []runResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "streams\tdur\tnvr CPU s/str-min\tffmpeg CPU s/str-min\tnvr/ffmpeg\tnvr peak RSS MB\tnvr RSS end MB\tnvr +MB/stream\tffmpeg RSS sum MB\tffmpeg MB/proc\tloadgen CPU s/str-min (nvr|ff)\tpace (nvr|ff)\tmedia/wall mean,min (nvr|ff)\tclean files (nvr|ff)\t")
	for _, r := range rs {
		strMin := float64(r.Streams) * r.Duration.Minutes()
		nvr, ff := r.NVR.CPU.Seconds()/strMin, r.FF.CPU.Seconds()/strMin
		ratio := 0.0
		if ff > 0 {
			ratio = nvr / ff
		}
		var end, inc float64
		if rr := r.NVR.Rec; rr != nil {
			end = mb(rr.End.RSS)
			inc = mb(rr.End.RSS-rr.Base.RSS) / float64(r.Streams)
		}
		d := r.Duration.Seconds()
		fmt.Fprintf(tw, "%d\t%s\t%.3f\t%.3f\t%.2f\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%.3f | %.3f\t%.3f | %.3f\t%.3f,%.3f | %.3f,%.3f\t%d/%d | %d/%d\t\n",
			r.Streams, r.Duration, nvr, ff, ratio, mb(r.NVR.MaxRSS), end, inc, mb(r.FF.MaxRSS), mb(r.FF.MaxRSS)/float64(r.Streams),
			r.NVR.LoadgenCPU.Seconds()/strMin, r.FF.LoadgenCPU.Seconds()/strMin, r.NVR.Pace, r.FF.Pace,
			mean(r.NVR.Media)/d, minOf(r.NVR.Media)/d, mean(r.FF.Media)/d, minOf(r.FF.Media)/d,
			r.NVR.Clean, r.NVR.Files, r.FF.Clean, r.FF.Files)
	}
	_ = tw.Flush()
	for _, r := range rs {
		if rr := r.NVR.Rec; rr != nil {
			fmt.Fprintf(w, "  %d streams: lightnvr recording span %.1f s wall, %.2f s CPU = %.3f s/stream-min (process total by wait4 %.2f s, with DB open and migrations); RSS base %.1f MB (anon %.1f, file %.1f) → end %.1f MB (anon %.1f, file %.1f); frames %d, ingest drops %d, recorder drops %d, reconnects %d, not recording %d\n",
				r.Streams, rr.WallS, rr.CPUS, rr.CPUS/(float64(r.Streams)*rr.WallS/60), r.NVR.CPU.Seconds(), mb(rr.Base.RSS), mb(rr.Base.RSSAnon), mb(rr.Base.RSSFile),
				mb(rr.End.RSS), mb(rr.End.RSSAnon), mb(rr.End.RSSFile), rr.Frames, rr.Drops, rr.RecDrops, rr.Reconnect, rr.NotRec)
			fmt.Fprintf(w, "  %d streams: lightnvr at the end: Go heap in use %.1f MB, Go runtime total from the OS %.1f MB, %d SQLite connections\n",
				r.Streams, mb(rr.GoHeapInuse), mb(rr.GoSys), rr.DBConns)
		}
		if r.FF.End.RSS > 0 {
			fmt.Fprintf(w, "  %d streams: ffmpeg before stop: RSS %.1f MB in all (anon %.1f, file %.1f) = %.1f MB/proc (anon %.1f MB/proc)\n",
				r.Streams, mb(r.FF.End.RSS), mb(r.FF.End.RSSAnon), mb(r.FF.End.RSSFile),
				mb(r.FF.End.RSS)/float64(r.Streams), mb(r.FF.End.RSSAnon)/float64(r.Streams))
		}
		for _, p := range append(r.NVR.Problems, r.FF.Problems...) {
			fmt.Fprintf(w, "  %d streams: %s\n", r.Streams, p)
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
