package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/record"
	"lightnvr/pkg/streams"
)

// recordReport is what `nvr-bench record` prints on stdout as one JSON line.
type recordReport struct {
	Streams int     `json:"streams"`
	WallS   float64 `json:"wall_s"` // from the first source start to the last recorder closed
	// CPUS is this process's user+system CPU over the same span (DB
	// open and migrations excluded; the parent's wait4 figure has them).
	CPUS      float64 `json:"cpu_s"`
	Base      memInfo `json:"base"` // after the DB is open, before any stream
	End       memInfo `json:"end"`  // while every stream still records
	Frames    uint64  `json:"frames"`
	Drops     uint64  `json:"drops"`      // ingest losses, hub drops
	RecDrops  uint64  `json:"rec_drops"`  // units the recorders did not write (waiting for a keyframe…)
	Reconnect uint64  `json:"reconnects"` // sessions that ended early
	NotRec    int     `json:"not_recording"`
	// Where the end RSS lives: the Go heap in use, everything the Go
	// runtime holds from the OS, and SQLite connections (each one a wasm
	// instance with its own memory outside the Go heap).
	GoHeapInuse int64 `json:"go_heap_inuse_kb"`
	GoSys       int64 `json:"go_sys_kb"`
	DBConns     int   `json:"db_conns"`
}

func recordCmd(args []string) error {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	url := fs.String("url", "", "RTSP URL prefix; stream i is <url><i> (e.g. rtsp://127.0.0.1:8654/cam)")
	n := fs.Int("n", 1, "number of streams")
	dir := fs.String("dir", "", "directory for the database and the recordings")
	dur := fs.Duration("duration", 30*time.Second, "how long to record")
	segment := fs.Duration("segment", 900*time.Second, "segment duration (LightNVR's default 900 s)")
	noSync := fs.Bool("nosync", false, "skip the per-part fdatasync (production syncs)")
	pace := fs.Duration("pace", streams.ReadPace, "read each session once per beat of this length, as the daemon does (0: as packets arrive)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the recording span here")
	memProfile := fs.String("memprofile", "", "write a heap profile here while every stream still records")
	_ = fs.Parse(args)
	if *url == "" || *dir == "" || *n < 1 {
		return errors.New("record: -url, -dir and -n ≥ 1 are required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logf, err := os.Create(filepath.Join(*dir, "lightnvr.log"))
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer func() { _ = logf.Close() }()
	log := slog.New(slog.NewTextHandler(logf, nil))

	d, err := db.Open(ctx, filepath.Join(*dir, "nvr.db"))
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	if _, err := d.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	self := strconv.Itoa(os.Getpid())
	rep := recordReport{Streams: *n}
	if rep.Base, err = readMem(self); err != nil {
		return err
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	ru0, t0 := selfRusage(), time.Now()
	// The recorders outlive a stop by signal until their state is read
	// below: otherwise some have closed by then and count as not recording.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	srcs := make([]*media.Source, *n)
	recs := make([]*record.Recorder, *n)
	storage := filepath.Join(*dir, "storage")
	rows := record.NewRowWriter(d, log) // as the daemon shares one among its recorders
	for i := range *n {
		name := "cam" + strconv.Itoa(i)
		hub := media.NewHub()
		srcs[i] = media.NewSource(media.SourceConfig{Name: name, URL: *url + strconv.Itoa(i), Hub: hub, NoAudio: true, Logger: log, ReadPace: *pace})
		recs[i], err = record.New(record.Config{Stream: name, StorageDir: storage, DB: d, Logger: log,
			SegmentDuration: *segment, NoSync: *noSync, NoAudio: true, RowWriter: rows})
		if err != nil {
			return err
		}
		sub := hub.Subscribe("recorder", 1024)
		wg.Go(func() { _ = srcs[i].Run(runCtx) })
		wg.Go(func() { _ = recs[i].Run(runCtx, sub) })
	}

	t := time.NewTimer(*dur)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	if rep.End, err = readMem(self); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.GoHeapInuse, rep.GoSys = int64(ms.HeapInuse>>10), int64(ms.Sys>>10)
	rep.DBConns = d.OpenConnections()
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}
	for i := range *n {
		st := srcs[i].Stats()
		rep.Frames += st.Frames
		rep.Drops += st.Drops
		rep.Reconnect += st.Reconnects
		rs := recs[i].Status()
		rep.RecDrops += rs.Dropped
		if rs.State != record.StateRecording {
			rep.NotRec++
			log.Warn("stream not recording at the end", "stream", i, "state", rs.State, "err", rs.Err)
		}
	}
	cancel()
	wg.Wait() // recorders close their segments: mvhd patch, fsync, row complete
	ru1 := selfRusage()
	rep.WallS = time.Since(t0).Seconds()
	rep.CPUS = (cpuTime(&ru1) - cpuTime(&ru0)).Seconds()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
