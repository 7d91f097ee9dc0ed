// Command nvr-bench measures what recording costs: CPU seconds per
// stream-minute and RSS of LightNVR's recording path against `ffmpeg -c copy`
// recording the same synthetic streams on the same machine in the same run,
// and the idle RSS of `lightnvr serve`. It prints figures; it asserts nothing.
//
//	nvr-bench run    -streams 1,8,32 -duration 30s [-lightnvr bin/lightnvr] [-mipsle bin/mipsle/lightnvr]
//	nvr-bench record -url rtsp://127.0.0.1:8654/cam -n 8 -dir DIR -duration 30s
//	nvr-bench idle   -bin bin/lightnvr [-qemu qemu-mipsel-static]
//
// `record` is the LightNVR side run as its own process (media.Source → Hub →
// record.Recorder per stream, production settings), so its CPU time and RSS
// are its own; `run` starts the synthetic cameras, runs `record` and the
// ffmpeg processes one after the other on the same streams, and checks every
// file with ffprobe.
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
