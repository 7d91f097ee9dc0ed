package qemutest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

const (
	// The A1's 256 MB less what its video pipeline reserves: what Linux,
	// go2rtc and lightnvr share on the board.
	scaleMemoryMB = 160
	// MemAvailable must never fall under this: below it the kernel starts
	// dropping the page cache the recordings are written through, and an
	// allocation burst (a reconnect, a download) risks the OOM killer.
	minMemAvailableKB = 20480
	scaleSampleEvery  = 10 * time.Second
	// Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on MIPS Linux).
	userHZ = 100
	// A stream kept up when its ingest counted at least this share of the
	// frames the source sent over the window.
	keptUpShare = 0.95
)

// The processes whose memory and CPU are sampled, by their supervisor's
// pid file /run/NAME.child.pid.
var scaleProcs = []string{"lightnvr", "go2rtc"}

// TestScaleOnBoardMemory boots the firmware with the board's Linux memory
// (-m 160), records LIGHTNVR_QEMU_SCALE_STREAMS (default 8) streams of
// 640x360 H.264 from the host through go2rtc in segments of
// LIGHTNVR_QEMU_SCALE_SEGMENT seconds (default 60) for LIGHTNVR_QEMU_SCALE_FOR
// (default 10m), samples the guest over the serial console every 10 s, and
// asserts: no OOM kill, neither process restarted, MemAvailable never under
// 20 MB, and every stream recorded throughout. It prints the memory and CPU
// figures, per stream, and whether the emulator kept up with the sources.
func TestScaleOnBoardMemory(t *testing.T) {
	img := applianceImages(t)
	n := scaleStreams(t)
	window := scaleWindow(t)
	segment := scaleSegment(t)
	need(t, "debugfs", "e2fsprogs") // to read the log of a board that was reset
	need(t, "e2fsck", "e2fsprogs")
	budget := window + 10*time.Minute // boot, set-up and the checks after the window
	if d, ok := t.Deadline(); ok && time.Until(d) < budget {
		t.Fatalf("go test's -timeout leaves %s; a %s window needs %s", time.Until(d).Round(time.Second), window, budget)
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	// A disk of its own, never booted (TestAppliance boots data.img).
	img.DataDisk = filepath.Join(t.TempDir(), "data.img")
	copySparse(t, filepath.Join(os.Getenv(imagesEnv), "qemu-malta", "blank-data.img"), img.DataDisk)

	src := startRTSPSource(t)
	webPort := testkit.FreePort(t)
	// nohz=off: see cutRig.boot (a tickless guest's clock jumps back).
	// clocksource=jiffies: kept by the emulated 32-bit cycle counter, the
	// guest's monotonic clock now and then read one wrap (25.8 s) ahead,
	// and every Go timer set in that moment fired that much late: all
	// streams stood still together (the stall dump below found it). Timed
	// by the tick, it cannot; and the counter's reads cost the emulated
	// board two thirds of lightnvr's CPU.
	m := bootForTest(t, img, Options{MemoryMB: scaleMemoryMB, Forward: map[int]int{webPort: 8080}, Append: "nohz=off clocksource=jiffies", VirtioNet: true}, "-scale")
	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	// Generous: a guest busy with N streams answers slowly.
	client := sessionClient(time.Minute)
	waitOK(ctx, t, m, base+"/api/health")
	consoleLogin(ctx, t, m)
	// Whatever failed the test, a Fatal included: what the daemon said of
	// its streams and recordings, to tell a slow disk from a reconnect, a
	// storage error or a failed query. A guest that is gone (a reset) has
	// left its log on the data disk.
	defer func() {
		if !t.Failed() {
			return
		}
		select {
		case <-m.Exited():
			t.Logf("the daemon's warnings, errors, segment cuts and watchdog lines up to the reset, from the data disk:\n%s", dataDiskLog(img.DataDisk))
		default:
			out, _, _ := m.Run(ctx, "grep -e '"+strings.Join(scaleLogLines, "' -e '")+"' /data/log/lightnvr.log | tail -n 80")
			t.Logf("the daemon's warnings, errors, segment cuts and watchdog lines (last 80):\n%s", out)
		}
	}()
	user, password := initialAdmin(ctx, t, m)
	login(t, client, base, user, password)

	startClockWatch(ctx, t, m)
	idle := sampleGuest(ctx, t, m)
	t.Logf("idle: %s", idle)
	streams := make([]string, n)
	for i := range streams {
		streams[i] = fmt.Sprintf("scale%d", i+1)
		addStream(t, client, base, streams[i], fmt.Sprintf("rtsp://10.0.2.2:%d/cam", src.rtspPort), segment)
	}
	waitAllRecording(ctx, t, m, streams)

	run := &scaleRun{t: t, streams: streams, segment: segment, idle: idle}
	// The figures are printed whatever ends the run, a reset board included.
	defer run.printSummary()
	framesBefore, hostStart := streamFrames(t, client, base)
	run.add(sampleGuest(ctx, t, m))
	for time.Since(hostStart) < window {
		select {
		case <-time.After(scaleSampleEvery):
		case <-m.Exited():
			if strings.Contains(m.Console(), "softdog: Initiating system reboot") {
				t.Fatal("the watchdog reset the board during the run: lightnvr stopped feeding it (see its last sample)")
			}
			t.Fatal("qemu exited during the run")
		}
		if alarm := run.add(sampleGuest(ctx, t, m)); alarm {
			out, _, _ := m.Run(ctx, `dmesg | grep -iE 'out of [m]emory|[k]illed process' | tail -n 5; grep -e 'level=[W]ARN' -e 'level=[E]RROR' /data/log/lightnvr.log | tail -n 40`)
			t.Logf("the kernel's and the daemon's words on it:\n%s", out)
		}
		if run.allStalled() {
			stallDump(ctx, t, m, src)
			t.Fatalf("every stream stood still from guest time %d to %d: the sockets' queues and both processes' goroutines at that moment are above", run.samples[len(run.samples)-2].at, run.samples[len(run.samples)-1].at)
		}
	}
	framesAfter, hostEnd := streamFrames(t, client, base)
	run.notes = append(run.notes, daemonWarnings(ctx, m), clockWatchLog(ctx, m))

	run.checkCovered(listRecordings(t, client, base, streams))
	run.notes = append(run.notes, run.keptUp(framesBefore, framesAfter, hostEnd.Sub(hostStart)))
	run.notes = append(run.notes, lastSegmentFrames(t, client, base, streams))
}

// scaleStreams is LIGHTNVR_QEMU_SCALE_STREAMS, 8 by default.
func scaleStreams(t *testing.T) int {
	n, err := strconv.Atoi(envOr("LIGHTNVR_QEMU_SCALE_STREAMS", "8"))
	if err != nil || n < 1 {
		t.Fatalf("LIGHTNVR_QEMU_SCALE_STREAMS: want a count of at least 1 (%v)", err)
	}
	return n
}

// scaleSegment is LIGHTNVR_QEMU_SCALE_SEGMENT, the streams' segment_duration
// in seconds. The default, 60, is a short setting a user might pick, and
// still leaves the window complete recordings to check. The appliance
// test's 10 s would have every stream open and close a recording every
// 10 s, 90 times as often as the product's default 900 s.
func scaleSegment(t *testing.T) int {
	n, err := strconv.Atoi(envOr("LIGHTNVR_QEMU_SCALE_SEGMENT", "60"))
	if err != nil || n < 1 {
		t.Fatalf("LIGHTNVR_QEMU_SCALE_SEGMENT: want seconds, at least 1 (%v)", err)
	}
	return n
}

// scaleWindow is LIGHTNVR_QEMU_SCALE_FOR, 10 minutes by default.
func scaleWindow(t *testing.T) time.Duration {
	d, err := time.ParseDuration(envOr("LIGHTNVR_QEMU_SCALE_FOR", "10m"))
	if err != nil || d < scaleSampleEvery {
		t.Fatalf("LIGHTNVR_QEMU_SCALE_FOR: want a duration of at least %s (%v)", scaleSampleEvery, err)
	}
	return d
}

// waitAllRecording waits until every stream has written recordings. It
// asks the console, not the API, which a guest starting N streams at once
// may be too busy to answer in time.
func waitAllRecording(ctx context.Context, t *testing.T, m *Machine, streams []string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		s := sampleGuest(ctx, t, m)
		waiting := slices.DeleteFunc(slices.Clone(streams), func(st string) bool { _, ok := s.newest[st]; return ok })
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%d of %d streams not recording within 3 minutes: %v", len(waiting), len(streams), waiting)
		}
		time.Sleep(2 * time.Second)
	}
}

// procSample is one process's figures from /proc/PID/{status,stat}.
type procSample struct {
	pid           int
	rssKB, anonKB int64
	cpuTicks      int64 // utime + stime
	sysTicks      int64 // stime: the guest kernel's work for the process
	found         bool
}

// guestSample is one look at the guest.
type guestSample struct {
	at         int64 // guest clock, Unix seconds
	memAvailKB int64
	procs      map[string]procSample
	ooms       int                // kernel log lines about the OOM killer
	starved    int                // times lightnvr stopped feeding the watchdog
	newest     map[string]recFile // each stream's newest recording written in the last minute
	// hostLoad is the host's 1-minute load average at the sample: a stall
	// of every stream at once with nothing in the daemon's log may be the
	// emulator starved by its host, which this tells apart.
	hostLoad string
	// waits is how the guest's writeback, clock and the processes' threads
	// stood at the sample: dirty and writeback pages, the timer interrupts
	// and CPU ticks counted since boot, and each process's threads by state
	// with where those in D wait. A stall of every stream at once shows
	// here whether the processes wait for the disk or the guest's timers
	// stopped.
	waits string
}

// recFile is a recording file on the guest: its path under the stream's
// directory (dated, so later files sort later) and its size.
type recFile struct {
	name string
	size int64
}

// after reports whether f is a later file than g, or the same one grown.
func (f recFile) after(g recFile) bool {
	return f.name > g.name || (f.name == g.name && f.size > g.size)
}

func (s guestSample) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "MemAvailable %d kB; host load %s", s.memAvailKB, s.hostLoad)
	for _, p := range scaleProcs {
		ps := s.procs[p]
		fmt.Fprintf(&b, "; %s pid %d VmRSS %d kB RssAnon %d kB cpu %.2f s", p, ps.pid, ps.rssKB, ps.anonKB, float64(ps.cpuTicks)/userHZ)
	}
	return b.String()
}

// The sample's shell command prints these lines; every pattern needs a
// digit where the typed command (echoed by the console) has a `$`.
var (
	sampleAtRE    = regexp.MustCompile(`at=(\d+)`)
	sampleMemRE   = regexp.MustCompile(`MemAvailable:\s+(\d+) kB`)
	sampleProcRE  = regexp.MustCompile(`proc=(\w+) pid=(\d+) (.*?) stat=(\d+) (\d+)`)
	sampleRSSRE   = regexp.MustCompile(`VmRSS:\s+(\d+)`)
	sampleAnonRE  = regexp.MustCompile(`RssAnon:\s+(\d+)`)
	sampleOOMRE   = regexp.MustCompile(`oom=(\d+) starved=(\d+)`)
	sampleFileRE  = regexp.MustCompile(`(?m)^rec (\d+) /data/recordings/mp4/([^/\s]+)/(\S+?)\r?$`)
	sampleCommand = `echo "at=$(date +%s)"; grep MemAvailable /proc/meminfo; ` +
		`for p in ` + strings.Join(scaleProcs, " ") + `; do pid=$(cat /run/$p.child.pid); ` +
		`echo "proc=$p pid=$pid $(grep -E '^(VmRSS|RssAnon):' /proc/$pid/status | tr '\n\t' '  ') stat=$(cut -d' ' -f14,15 /proc/$pid/stat)"; done; ` +
		`echo "waits dirty=$(awk '/^nr_dirty /{print $2}' /proc/vmstat) writeback=$(awk '/^nr_writeback /{print $2}' /proc/vmstat) timer-irqs=$(awk '/timer/{n+=$2} END{print n+0}' /proc/interrupts) ticks=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8}' /proc/stat) uptime=$(cut -d' ' -f1 /proc/uptime)"; ` +
		`for p in ` + strings.Join(scaleProcs, " ") + `; do pid=$(cat /run/$p.child.pid); ` +
		`echo "waits $p $(cat /proc/$pid/task/*/stat | awk '{print $3}' | sort | uniq -c | tr '\n' ' ')D-in: $(for k in /proc/$pid/task/*; do [ "$(awk '{print $3}' $k/stat)" = D ] && cat $k/wchan && echo; done | sort | uniq -c | tr '\n' ' ')"; done`
	// The second line of the sample: busybox's shell reads at most 1024
	// characters a line on the console, which one line of both overran.
	sampleCommand2 = `echo "oom=$(dmesg | grep -ciE 'out of memory|oom-kill|killed process') starved=$(grep -c 'watchdog: unhealthy' /data/log/lightnvr.log)"; find /data/recordings/mp4 -name '*.mp4' -mmin -1 -exec stat -c 'rec %s %n' {} +; true`
)

// sampleGuest reads memory, the two processes and the recordings' sizes
// over the console. A stream's recordings grow when its newest file does or
// a newer one appears: the file's own size, not du's blocks, which ext4
// allocates ahead.
func sampleGuest(ctx context.Context, t *testing.T, m *Machine) guestSample {
	t.Helper()
	out, _, err := m.Run(ctx, sampleCommand)
	if err != nil {
		t.Fatal(err)
	}
	out2, _, err := m.Run(ctx, sampleCommand2)
	if err != nil {
		t.Fatal(err)
	}
	out += "\n" + out2
	s := guestSample{procs: map[string]procSample{}, newest: map[string]recFile{}, hostLoad: "?"}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			s.hostLoad = f[0]
		}
	}
	at, mem, oom := sampleAtRE.FindStringSubmatch(out), sampleMemRE.FindStringSubmatch(out), sampleOOMRE.FindStringSubmatch(out)
	if at == nil || mem == nil || oom == nil {
		t.Fatalf("guest sample: no time, MemAvailable or OOM count in\n%s", out)
	}
	s.at = atoi64(at[1])
	s.memAvailKB = atoi64(mem[1])
	s.ooms, s.starved = int(atoi64(oom[1])), int(atoi64(oom[2]))
	var waits []string
	for _, l := range strings.Split(out, "\n") {
		if w, ok := strings.CutPrefix(strings.TrimSpace(l), "waits "); ok {
			waits = append(waits, w)
		}
	}
	s.waits = strings.Join(waits, "; ")
	for _, p := range sampleProcRE.FindAllStringSubmatch(out, -1) {
		ps := procSample{pid: int(atoi64(p[2])), cpuTicks: atoi64(p[4]) + atoi64(p[5]), sysTicks: atoi64(p[5]), found: true}
		if r := sampleRSSRE.FindStringSubmatch(p[3]); r != nil {
			ps.rssKB = atoi64(r[1])
		}
		if a := sampleAnonRE.FindStringSubmatch(p[3]); a != nil {
			ps.anonKB = atoi64(a[1])
		}
		s.procs[p[1]] = ps
	}
	for _, p := range scaleProcs {
		if !s.procs[p].found || s.procs[p].rssKB == 0 {
			t.Fatalf("guest sample: %s not running (no pid file or /proc entry):\n%s", p, out)
		}
	}
	for _, f := range sampleFileRE.FindAllStringSubmatch(out, -1) {
		if rf := (recFile{name: f[3], size: atoi64(f[1])}); rf.after(s.newest[f[2]]) {
			s.newest[f[2]] = rf
		}
	}
	return s
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// scaleRun is the samples of the recording window and what they showed.
type scaleRun struct {
	t       *testing.T
	streams []string
	segment int // segment_duration, s
	idle    guestSample
	samples []guestSample
	peak    map[string]procSample
	minMem  guestSample
	notes   []string // summary lines found after the window
}

func (r *scaleRun) printSummary() {
	if len(r.samples) < 2 {
		return
	}
	r.t.Logf("scale summary:\n%s%s", r.summary(), strings.Join(r.notes, ""))
}

// add checks a sample against the one before: no OOM, the same processes,
// MemAvailable above its floor, every stream's recordings grown. It
// reports whether the kernel's OOM killer or the watchdog's feeder has
// spoken since.
func (r *scaleRun) add(s guestSample) (alarm bool) {
	t := r.t
	prev := r.idle
	if len(r.samples) > 0 {
		prev = r.samples[len(r.samples)-1]
	}
	t.Logf("sample %d at %d: %s; waits: %s", len(r.samples), s.at, s, s.waits)
	if len(r.samples) == 0 {
		r.peak = map[string]procSample{}
		r.minMem = s
	}
	if s.ooms > prev.ooms {
		t.Errorf("the kernel logged %d lines about the OOM killer by guest time %d (%d before the streams)", s.ooms, s.at, r.idle.ooms)
	}
	if s.starved > prev.starved {
		t.Logf("WARNING: lightnvr stopped feeding the watchdog by guest time %d (its health check failed or hung): the board resets if that lasts 30 s", s.at)
	}
	if s.memAvailKB < minMemAvailableKB {
		t.Errorf("MemAvailable %d kB at guest time %d, under the %d kB floor", s.memAvailKB, s.at, minMemAvailableKB)
	}
	if s.memAvailKB < r.minMem.memAvailKB {
		r.minMem = s
	}
	for _, p := range scaleProcs {
		if now, idle := s.procs[p], r.idle.procs[p]; now.pid != idle.pid {
			t.Errorf("%s restarted: pid %d before the streams, %d at guest time %d", p, idle.pid, now.pid, s.at)
		}
		if s.procs[p].rssKB > r.peak[p].rssKB {
			r.peak[p] = s.procs[p]
		}
	}
	if len(r.samples) > 0 {
		for _, st := range r.streams {
			if now, before := s.newest[st], prev.newest[st]; !now.after(before) {
				t.Errorf("%s's recordings did not grow from guest time %d to %d: %v, then %v", st, prev.at, s.at, before, now)
			}
		}
	}
	r.samples = append(r.samples, s)
	return s.ooms > prev.ooms || s.starved > prev.starved
}

// Where the guest keeps the clock watcher and its log (the data disk, so
// that the watcher's binary takes none of the guest's RAM).
const (
	clockWatchPath    = "/data/clockwatch"
	clockWatchLogPath = "/data/log/clockwatch.log"
)

// startClockWatch builds the clock watcher (./clockwatch) for the board,
// has the guest fetch it from the host over the emulated network and
// starts it, and logs the guest's clock source. A stall of every stream
// is then measured against the board's own clocks and Go timers.
func startClockWatch(ctx context.Context, t *testing.T, m *Machine) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clockwatch")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./board/qemu-malta/qemutest/clockwatch")
	build.Dir = testkit.RepoRoot(t)
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=mipsle", "GOMIPS=softfloat", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the clock watcher: %v\n%s", err, out)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, bin)
	}))
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	// The guest reaches the host's loopback at 10.0.2.2.
	out, rc, err := m.Run(ctx, fmt.Sprintf("wget -q -O %[1]s http://10.0.2.2:%[2]s/clockwatch && chmod +x %[1]s && (setsid %[1]s > %[3]s 2>&1 < /dev/null &) && sleep 1 && cat %[3]s", clockWatchPath, port, clockWatchLogPath))
	if err != nil || rc != 0 {
		t.Fatalf("start the clock watcher on the guest (rc %d): %v\n%s", rc, err, out)
	}
	if !strings.Contains(out, "clockwatch: watching") {
		t.Fatalf("the clock watcher did not start on the guest:\n%s", out)
	}
	out, _, _ = m.Run(ctx, "cat /sys/devices/system/clocksource/clocksource0/current_clocksource; dmesg | grep -iE 'clocksource|sched_clock|rdhwr|clockevent'")
	t.Logf("the guest's clock source:\n%s", out)
}

// clockWatchLog is what the clock watcher reported: each clock step and
// late timer, and its minutes.
func clockWatchLog(ctx context.Context, m *Machine) string {
	out, _, err := m.Run(ctx, "tail -n 40 "+clockWatchLogPath)
	if err != nil {
		return fmt.Sprintf("  clock watcher: log not read: %v\n", err)
	}
	return "  clock watcher (last 40 lines):\n" + out + "\n"
}

// allStalled reports whether no stream's recordings grew between the last
// two samples.
func (r *scaleRun) allStalled() bool {
	if len(r.samples) < 2 {
		return false
	}
	prev, now := r.samples[len(r.samples)-2], r.samples[len(r.samples)-1]
	for _, st := range r.streams {
		if now.newest[st].after(prev.newest[st]) {
			return false
		}
	}
	return true
}

// stallDump logs what the guest's two processes were doing while every
// stream stood still: each TCP socket that has bytes queued, which names
// the side that stopped reading or sending, the host source's byte counts,
// and every goroutine of both.
// SIGQUIT makes the Go runtime print all goroutines' stacks to stderr,
// which the supervisor hands to syslog, and exit; the supervisors restart
// both, so the run cannot go on after it.
func stallDump(ctx context.Context, t *testing.T, m *Machine, src rtspSource) {
	t.Helper()
	// Whether the source still sends: the host go2rtc's byte counts of its
	// producer (ffmpeg) and its consumers (the guest's go2rtc), 3 s apart.
	before := src.streams()
	time.Sleep(3 * time.Second)
	t.Logf("stall: the host source's streams, 3 s apart:\n%s\n%s", before, src.streams())
	out, _, err := m.Run(ctx, `awk 'NR > 1 && $5 != "00000000:00000000" {print "tcp", $2, $3, $4, $5}' /proc/net/tcp`)
	if err != nil {
		t.Logf("stall: /proc/net/tcp not read: %v", err)
	}
	t.Logf("stall: TCP sockets with bytes queued (local, remote, state, send queue, receive queue; 8554 is go2rtc's RTSP server, 1984 its API):\n%s", tcpQueues(out))
	t.Logf("stall: %s", clockWatchLog(ctx, m))
	// Where each thread waits in the kernel, and for how long it asked to:
	// a process whose timers stopped shows here whether its network poller
	// waits at all, and until when (the runtime's earliest timer).
	out, _, err = m.Run(ctx, `for p in `+strings.Join(scaleProcs, " ")+`; do pid=$(cat /run/$p.child.pid); for k in /proc/$pid/task/*; do echo "thread $p ${k##*/} $(cat $k/wchan) $(cat $k/syscall)"; done; done`)
	if err != nil {
		t.Logf("stall: threads not read: %v", err)
	}
	t.Logf("stall: each thread's wait (process, thread, kernel function, system call and its arguments):\n%s", threadWaits(out))
	if _, _, err := m.Run(ctx, "kill -QUIT $(cat /run/go2rtc.child.pid) $(cat /run/lightnvr.child.pid); sleep 5"); err != nil {
		t.Logf("stall: SIGQUIT not sent: %v", err)
		return
	}
	for _, p := range scaleProcs {
		out, _, err := m.Run(ctx, "logread | grep ' "+p+": ' | sed -n '/SIGQUIT/,$p' | cut -d: -f4- | head -n 3000")
		if err != nil {
			t.Logf("stall: %s's goroutines not read: %v", p, err)
			continue
		}
		t.Logf("stall: %s's goroutines (SIGQUIT):\n%s", p, out)
	}
}

// mipsSyscalls names the o32 system calls a Go process waits in.
var mipsSyscalls = map[uint64]string{
	4003: "read", 4166: "nanosleep", 4238: "futex", 4313: "epoll_pwait",
	4407: "clock_nanosleep_time64", 4422: "futex_time64", 4441: "epoll_pwait2",
}

// threadWaits decodes the stall dump's "thread PROC TID WCHAN NR ARGS..."
// lines (/proc/PID/task/TID/syscall: the call's number and arguments in
// hex) into a line per thread with the call named; for epoll_pwait, its
// timeout in milliseconds (-1: none).
func threadWaits(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] != "thread" {
			continue
		}
		line := strings.Join(f[1:], " ")
		if nr, err := strconv.ParseUint(f[4], 10, 64); err == nil && len(f) >= 9 {
			name := mipsSyscalls[nr]
			if name == "" {
				name = "syscall " + f[4]
			}
			line = fmt.Sprintf("%s %s %s in %s", f[1], f[2], f[3], name)
			if name == "epoll_pwait" {
				ms, _ := strconv.ParseUint(strings.TrimPrefix(f[8], "0x"), 16, 32)
				line += fmt.Sprintf(" timeout %d ms", int32(ms))
			}
		}
		fmt.Fprintf(&b, "  %s\n", line)
	}
	if b.Len() == 0 {
		return "  none\n"
	}
	return b.String()
}

// tcpQueues decodes the rows of /proc/net/tcp the stall dump prints
// ("tcp LOCAL REMOTE STATE TX:RX", addresses as little-endian hex IPv4 and
// hex port) into a line per socket.
func tcpQueues(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 5 || f[0] != "tcp" {
			continue
		}
		q := strings.SplitN(f[4], ":", 2)
		if len(q) != 2 {
			continue
		}
		tx, _ := strconv.ParseUint(q[0], 16, 64)
		rx, _ := strconv.ParseUint(q[1], 16, 64)
		fmt.Fprintf(&b, "  %s -> %s state %s send %d receive %d\n", hexAddr(f[1]), hexAddr(f[2]), f[3], tx, rx)
	}
	if b.Len() == 0 {
		return "  none\n"
	}
	return b.String()
}

// hexAddr turns /proc/net/tcp's "0100007F:216A" into "127.0.0.1:8554".
func hexAddr(s string) string {
	ip, port, ok := strings.Cut(s, ":")
	a, err1 := strconv.ParseUint(ip, 16, 32)
	p, err2 := strconv.ParseUint(port, 16, 16)
	if !ok || err1 != nil || err2 != nil {
		return s
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", a&0xff, a>>8&0xff, a>>16&0xff, a>>24, p)
}

// checkCovered asserts each stream's complete recordings cover the window
// (first to last sample, guest time): the media time on the disk, as the
// rows state it (the recorder's wall clock at the first part plus the
// media duration), against the wall time. The bound allows for the
// recording still open at the end (no end in its row yet, up to a segment),
// the rows' whole seconds (up to a second at each end of the window), and
// 2 % for the emulated clock's drift against the sources' and for frames
// queued at a segment's cut; a stalled or restarted pipeline loses far more.
func (r *scaleRun) checkCovered(recs []apiRecording) {
	t := r.t
	from, to := r.samples[0].at, r.samples[len(r.samples)-1].at
	window := float64(to - from)
	// The open segment is not listed as complete: up to a segment and a
	// GOP at the end of the window, plus half a second for its last frame.
	want := 0.98*window - float64(r.segment) - float64(srcGOP)/srcFPS - 0.5 - 2
	for _, st := range r.streams {
		var spans [][2]int64
		for _, rec := range recs {
			if rec.Stream == st && rec.IsComplete {
				spans = append(spans, [2]int64{max(rec.StartUnix, from), min(rec.EndUnix, to)})
			}
		}
		if got := float64(covered(spans)); got < want {
			t.Errorf("%s: recordings cover %.0f s of the %.0f s window (guest %d to %d), want at least %.0f s; not covered: %s",
				st, got, window, from, to, want, holes(spans, from, to))
		}
	}
}

// holes lists the stretches of [from, to] no span covers, as offsets into
// the window: where a stream's recording time went.
func holes(spans [][2]int64, from, to int64) string {
	slices.SortFunc(spans, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var out []string
	reach := from
	for _, s := range append(spans, [2]int64{to, to}) {
		if s[0] > reach {
			out = append(out, fmt.Sprintf("+%d..+%d s", reach-from, s[0]-from))
		}
		reach = max(reach, s[1])
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

// covered is the length of the union of the spans [start, end].
func covered(spans [][2]int64) int64 {
	slices.SortFunc(spans, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var total, reach int64 = 0, math.MinInt64
	for _, s := range spans {
		start := max(s[0], reach)
		if s[1] > start {
			total += s[1] - start
		}
		reach = max(reach, s[1])
	}
	return total
}

// summary prints the figures the issue asks for: the lowest MemAvailable,
// peak and end memory of each process, the cost per stream (end minus idle,
// divided by N) and CPU over the window.
func (r *scaleRun) summary() string {
	first, last := r.samples[0], r.samples[len(r.samples)-1]
	n := float64(len(r.streams))
	secs := float64(last.at - first.at)
	mb := func(kb int64) float64 { return float64(kb) / 1024 }
	var b strings.Builder
	fmt.Fprintf(&b, "  %d streams of %dx%d H.264 at %d fps, %d kbit/s, %d s segments, -m %d, %.0f s window, %d samples\n",
		len(r.streams), srcWidth, srcHeight, srcFPS, srcKbps, r.segment, scaleMemoryMB, secs, len(r.samples))
	fmt.Fprintf(&b, "  MemAvailable: idle %d kB, min %d kB (guest time %d), end %d kB (floor %d kB)\n",
		r.idle.memAvailKB, r.minMem.memAvailKB, r.minMem.at, last.memAvailKB, minMemAvailableKB)
	for _, p := range scaleProcs {
		idle, peak, end := r.idle.procs[p], r.peak[p], last.procs[p]
		cpu := float64(end.cpuTicks-first.procs[p].cpuTicks) / userHZ
		sys := float64(end.sysTicks-first.procs[p].sysTicks) / userHZ
		fmt.Fprintf(&b, "  %-8s RSS idle %.1f MB, peak %.1f MB, end %.1f MB; anon idle %.1f MB, end %.1f MB; per stream RSS %.2f MB, anon %.2f MB; CPU %.1f s (%.0f %% in the kernel) = %.0f %% of the guest's CPU, %.2f s per stream-minute\n",
			p, mb(idle.rssKB), mb(peak.rssKB), mb(end.rssKB), mb(idle.anonKB), mb(end.anonKB),
			mb(end.rssKB-idle.rssKB)/n, mb(end.anonKB-idle.anonKB)/n, cpu, 100*sys/max(cpu, 0.01), 100*cpu/secs, cpu/n/(secs/60))
	}
	return b.String()
}

// streamFrames is each stream's ingest frame count from /api/health, and
// when (host clock): the middle of the request, which a busy guest may be
// slow to answer.
func streamFrames(t *testing.T, client *http.Client, base string) (map[string]int64, time.Time) {
	t.Helper()
	start := time.Now()
	code, body := get(t, client, base+"/api/health")
	at := start.Add(time.Since(start) / 2)
	var h struct {
		Streams []struct {
			Name   string `json:"name"`
			Frames int64  `json:"frames_total"`
		} `json:"streams_detail"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil {
		t.Fatalf("GET /api/health: %d %s", code, body)
	}
	frames := map[string]int64{}
	for _, s := range h.Streams {
		frames[s.Name] = s.Frames
	}
	return frames, at
}

// keptUp compares the frames each stream's ingest counted over the window
// with those the source sent (srcFPS for as long, on the host's clock).
func (r *scaleRun) keptUp(before, after map[string]int64, d time.Duration) string {
	sent := float64(srcFPS) * d.Seconds()
	low, lowStream := math.Inf(1), ""
	var total int64
	for _, st := range r.streams {
		got := after[st] - before[st]
		total += got
		if share := float64(got) / sent; share < low {
			low, lowStream = share, st
		}
	}
	verdict := "kept up"
	if low < keptUpShare {
		verdict = fmt.Sprintf("did NOT keep up (under %.0f %%)", 100*keptUpShare)
	}
	return fmt.Sprintf("  frames ingested over %.0f s: %d of %.0f sent (%.1f %%), lowest stream %s %.1f %%: the emulator %s\n",
		d.Seconds(), total, sent*float64(len(r.streams)), 100*float64(total)/(sent*float64(len(r.streams))), lowStream, 100*low, verdict)
}

// lastSegmentFrames downloads each stream's newest complete recording and
// compares the frames in it with what its duration holds at srcFPS.
func lastSegmentFrames(t *testing.T, client *http.Client, base string, streams []string) string {
	t.Helper()
	newest := map[string]apiRecording{}
	for _, rec := range listRecordings(t, client, base, streams) {
		if rec.IsComplete && rec.ID > newest[rec.Stream].ID {
			newest[rec.Stream] = rec
		}
	}
	var frames int
	var secs float64
	for _, st := range streams {
		rec, ok := newest[st]
		if !ok {
			t.Errorf("%s has no complete recording", st)
			continue
		}
		f, _ := download(t, client, fmt.Sprintf("%s/api/recordings/download/%d", base, rec.ID))
		secs += testkit.FFprobe(t, f).Duration()
		frames += testkit.VideoPackets(t, f)
		os.Remove(f)
	}
	return fmt.Sprintf("  frames recorded in each stream's last segment: %d in %.1f s, %.1f %% of %d fps\n",
		frames, secs, 100*float64(frames)/(secs*srcFPS), srcFPS)
}

// TestScaleCoverage checks the arithmetic the scale run's verdict rests on:
// overlapping and touching spans count once, and what no span covers is
// listed as offsets into the window.
func TestScaleCoverage(t *testing.T) {
	spans := [][2]int64{{130, 190}, {100, 130}, {120, 125}, {200, 260}, {255, 280}}
	if got := covered(slices.Clone(spans)); got != 170 {
		t.Errorf("covered = %d s, want 170 (100-190 and 200-280)", got)
	}
	if got, want := holes(slices.Clone(spans), 90, 300), "+0..+10 s, +100..+110 s, +190..+210 s"; got != want {
		t.Errorf("holes = %q, want %q", got, want)
	}
	if got := holes([][2]int64{{80, 400}}, 90, 300); got != "nothing" {
		t.Errorf("holes of a covered window = %q, want nothing", got)
	}
}

// TestTCPQueues checks the decoding of /proc/net/tcp's rows the stall dump
// prints: a little-endian address, a hex port, hex queue lengths.
func TestTCPQueues(t *testing.T) {
	out := "awk typed line\ntcp 0100007F:D5C2 0100007F:216A 01 00000000:0001F400\ntcp 0F02000A:A1B2 0202000A:1F90 01 00000A00:00000000\n"
	want := "  127.0.0.1:54722 -> 127.0.0.1:8554 state 01 send 0 receive 128000\n  10.0.2.15:41394 -> 10.0.2.2:8080 state 01 send 2560 receive 0\n"
	if got := tcpQueues(out); got != want {
		t.Errorf("tcpQueues =\n%s\nwant\n%s", got, want)
	}
	if got := tcpQueues("nothing here\n"); got != "  none\n" {
		t.Errorf("tcpQueues of no rows = %q, want none", got)
	}
}

// TestThreadWaits checks the decoding of a thread's system call the stall
// dump prints: the number named, epoll_pwait's timeout signed.
func TestThreadWaits(t *testing.T) {
	out := "for p in typed line\n" +
		"thread lightnvr 214 do_epoll_wait 4313 0x4 0x7f8bce10 0x80 0xffffffff 0x0 0x8 0x7f8bcdf0 0xe6a3c\n" +
		"thread lightnvr 215 futex_wait_queue 4422 0x12729d8 0x80 0x0 0x0 0x0 0x0 0x7f8bcf98 0xe5fb8\n" +
		"thread go2rtc 208 0 running\n"
	want := "  lightnvr 214 do_epoll_wait in epoll_pwait timeout -1 ms\n" +
		"  lightnvr 215 futex_wait_queue in futex_time64\n" +
		"  go2rtc 208 0 running\n"
	if got := threadWaits(out); got != want {
		t.Errorf("threadWaits =\n%s\nwant\n%s", got, want)
	}
}

// scaleLogLines are what a failed scale run prints of the daemon's log: the
// lines holding any of them.
var scaleLogLines = []string{"level=WARN", "level=ERROR", "new segment", "recording again", "watchdog"}

// dataDiskLog is the last 80 of the daemon's scaleLogLines, read from the
// data disk of a guest that is gone: after a reset, the only account of why
// its feeder stopped. The journal is replayed first: it may hold the log's
// last size.
func dataDiskLog(disk string) string {
	if out, err := replayJournal(disk); err != nil {
		return fmt.Sprintf("journal replay: %v\n%s", err, out)
	}
	out, err := exec.Command("debugfs", "-R", "cat /log/lightnvr.log", disk).Output()
	if err != nil {
		return fmt.Sprintf("debugfs: %v", err)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if slices.ContainsFunc(scaleLogLines, func(s string) bool { return strings.Contains(l, s) }) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-80):], "\n")
}

// daemonWarnings counts what the daemon warned of during the run, a passed
// run included: recording rows slow to commit and health checks that
// answered late are the first signs of a board near its limit.
func daemonWarnings(ctx context.Context, m *Machine) string {
	out, _, err := m.Run(ctx, `l=/data/log/lightnvr.log; echo "counted $(grep -c 'level=WARN' $l) $(grep -c 'level=ERROR' $l) $(grep -c 'rows were slow to write' $l) $(grep -c 'health check has not answered' $l) $(grep -c 'health check answered late' $l)"`)
	// The typed command is echoed too: only the answer has digits there.
	n := regexp.MustCompile(`counted (\d+) (\d+) (\d+) (\d+) (\d+)`).FindStringSubmatch(out)
	if err != nil || n == nil {
		return fmt.Sprintf("  daemon log: not read (%v): %q\n", err, out)
	}
	return fmt.Sprintf("  daemon log: %s warnings, %s errors; recording rows slow to write %s times; the watchdog's health check past its deadline %s times, answered late %s times\n",
		n[1], n[2], n[3], n[4], n[5])
}
