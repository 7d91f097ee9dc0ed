package hls_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/hls"
)

// benchWindow is how long each iteration watches the stream.
const benchWindow = 5 * time.Second

// BenchmarkLiveViewers watches one real camera with 1 and 8 LL-HLS
// viewers (blocking reloads, every new part fetched and copied as an HTTP
// reply would be) and reports the process CPU (ingest and muxer included)
// and the heap in use at the end of the window. CPU per viewer is the
// difference between the two runs over seven.
func BenchmarkLiveViewers(b *testing.B) {
	srv, _ := startLive(b, time.Minute)
	ctx := context.Background()
	if _, err := srv.Playlist(ctx, "cam", -1, -1); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			var cpu, heap float64
			for range b.N {
				c, h := watch(b, srv, n)
				cpu += c
				heap += h
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-ms/s")
			b.ReportMetric(heap/float64(b.N), "heap-MiB")
		})
	}
}

// watch runs n viewers for benchWindow; it returns the CPU milliseconds a
// second the process used and the MiB of heap in use afterwards.
func watch(b *testing.B, srv *hls.Server, n int) (float64, float64) {
	ctx, cancel := context.WithTimeout(context.Background(), benchWindow)
	defer cancel()
	before := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { view(ctx, srv) })
	}
	wg.Wait()
	cpu := float64((cpuTime() - before).Milliseconds()) / time.Since(start).Seconds()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return cpu, float64(ms.HeapInuse) / (1 << 20)
}

// view is one LL-HLS player: it waits for each next part with a blocking
// reload and fetches it.
func view(ctx context.Context, srv *hls.Server) {
	msn, part := int64(-1), int64(-1)
	for ctx.Err() == nil {
		pl, err := srv.Playlist(ctx, "cam", msn, part)
		if err != nil {
			return
		}
		uri := hint(string(pl))
		if uri == "" {
			return
		}
		if _, err := fmt.Sscanf(uri, "part%d.%d.m4s", &msn, &part); err != nil {
			return
		}
		if body, _, err := srv.File(ctx, "cam", uri); err == nil {
			_ = append([]byte(nil), body...) // the copy a reply makes
		}
		part++
	}
}

func hint(pl string) string {
	const tag = `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="`
	i := strings.Index(pl, tag)
	if i < 0 {
		return ""
	}
	rest := pl[i+len(tag):]
	return rest[:strings.IndexByte(rest, '"')]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
