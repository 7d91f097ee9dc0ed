// Command nvr-bench measures what recording costs: CPU seconds per
// stream-minute and memory of LightNVR against ffmpeg and mediamtx recording
// the same synthetic streams on the same machine in the same run, and the
// idle RSS of `lightnvr serve`. It prints figures; it asserts nothing.
//
//	nvr-bench run    -streams 1,8,32 -duration 60s [-lightnvr bin/lightnvr -go2rtc bin/go2rtc] [-mediamtx PATH] [-mipsle bin/mipsle/lightnvr] [-gomaxprocs 1]
//	nvr-bench record -url rtsp://127.0.0.1:8654/cam -n 8 -dir DIR -duration 30s
//	nvr-bench idle   -bin bin/lightnvr [-qemu qemu-mipsel-static]
//
// `run` starts the synthetic cameras and records them with each recorder in
// turn: `ffmpeg -c copy` to segment MP4 and to fMP4 (one process a stream),
// mediamtx pulling every stream as a path source, `lightnvr serve` with the
// go2rtc it manages and the streams added through its API, and `record`.
// Each recorder is measured over the same window, which opens once every
// stream has a file, from each process's CPU clock and /proc/PID/status; every file
// is then checked with ffprobe.
//
// `record` is the LightNVR pipeline alone as its own process (media.Source →
// Hub → record.Recorder per stream, production settings, no daemon and no
// go2rtc), so its CPU time and RSS are its own.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "record":
		err = recordCmd(os.Args[2:])
	case "idle":
		err = idleCmd(os.Args[2:])
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nvr-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: nvr-bench run|record|idle [flags]  (nvr-bench CMD -h for flags)")
}
