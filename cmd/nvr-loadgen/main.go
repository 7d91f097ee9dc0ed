// Command nvr-loadgen is a synthetic camera farm: an RTSP server serving N
// streams (/cam0 … /camN-1) from a clip ffmpeg makes at start, paced in
// real time and looped with continuous timestamps, with optional faults.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"lightnvr/pkg/media/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nvr-loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 1, "number of streams")
	addr := flag.String("addr", "127.0.0.1:8654", "RTSP listen address")
	res := flag.String("res", "1920x1080", "resolution")
	bitrate := flag.String("bitrate", "4M", "video bitrate")
	gop := flag.Int("gop", 50, "frames per keyframe interval")
	fps := flag.Int("fps", 25, "frames per second")
	codec := flag.String("codec", "h264", "h264 or h265")
	audio := flag.String("audio", "none", "none, aac or g711")
	duration := flag.Duration("duration", 30*time.Second, "length of the sample loop")
	sample := flag.String("sample", "", "use this MPEG-TS clip instead of making one")
	faultStreams := flag.String("fault-streams", "", "comma-separated stream indexes the faults apply to (default all)")
	nonMono := flag.Duration("nonmono", 0, "step timestamps back 2 s every period")
	jump := flag.Duration("jump", 0, "jump timestamps forward every period")
	jumpBy := flag.Duration("jump-by", 10*time.Second, "size of each timestamp jump")
	noSPS := flag.Duration("nosps", 0, "strip SPS/PPS from SDP and stream for this long after start")
	disconnect := flag.Duration("disconnect", 0, "close reader sessions every period")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	path := *sample
	if path == "" {
		dir, err := os.MkdirTemp("", "nvr-loadgen-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		path = filepath.Join(dir, "sample.ts")
		args := ffmpegArgs(*res, *fps, *gop, *bitrate, *codec, *audio == "aac", int(duration.Seconds()), path)
		log.Info("making sample", "ffmpeg", strings.Join(args, " "))
		cmd := exec.Command("ffmpeg", args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ffmpeg: %w", err)
		}
	}
	smp, err := loadgen.LoadSample(path)
	if err != nil {
		return err
	}
	f := loadgen.Faults{NonMonotonicEvery: *nonMono, JumpEvery: *jump, JumpBy: *jumpBy,
		StripParamsFor: *noSPS, DisconnectEvery: *disconnect}
	faults := map[int]loadgen.Faults{}
	for i := 0; i < *n; i++ {
		faults[i] = f
	}
	if *faultStreams != "" {
		faults = map[int]loadgen.Faults{}
		for _, s := range strings.Split(*faultStreams, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("-fault-streams: %w", err)
			}
			faults[i] = f
		}
	}
	srv, err := loadgen.Start(loadgen.Config{Addr: *addr, Streams: *n, Sample: smp, Audio: *audio, Faults: faults, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("serving", "first", srv.URL(0), "streams", *n)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}

// ffmpegArgs makes a moving test pattern with a fixed GOP and no B-frames,
// as cameras send.
func ffmpegArgs(res string, fps, gop int, bitrate, codec string, aac bool, secs int, out string) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc2=size=%s:rate=%d", res, fps)}
	if aac {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000")
	}
	args = append(args, "-t", strconv.Itoa(max(secs, 1)), "-pix_fmt", "yuv420p")
	g := strconv.Itoa(gop)
	if codec == "h265" {
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast",
			"-x265-params", "keyint="+g+":min-keyint="+g+":scenecut=0:bframes=0:repeat-headers=1:log-level=error")
	} else {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", g, "-keyint_min", g, "-sc_threshold", "0", "-bf", "0")
	}
	args = append(args, "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate)
	if aac {
		args = append(args, "-c:a", "aac", "-b:a", "64k", "-ac", "1")
	}
	return append(args, "-f", "mpegts", out)
}
