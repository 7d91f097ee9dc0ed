package api

import (
	"context"
	"io"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

// pprofRoutes serve the Go runtime's profiles when web.pprof_enabled is set:
// the daemon profiled under its real load, in the format `go tool pprof` reads.
var pprofRoutes = []endpoint[pprofHandler]{
	{"GET", "/api/debug/pprof/{name}", auth.AccessAdmin, pprofHandler.serve},
}

// timedMax bounds ?seconds= of a CPU profile or a trace: within the
// request's deadline, so the recording always ends by its own clock.
const timedMax = int64(requestTimeout/time.Second) - 5

type pprofHandler struct{}

// pprofOff answers while profiling is off: as for a route that is not there.
func pprofOff(ctx *fasthttp.RequestCtx) {
	writeError(ctx, fasthttp.StatusNotFound, "profiling is off (web.pprof_enabled)")
}

// serve writes the profile the path names: "profile" is CPU for ?seconds=
// (default 10), "trace" the runtime's execution trace for as long, anything
// else a runtime profile (heap, allocs, goroutine ...).
func (pprofHandler) serve(ctx *fasthttp.RequestCtx) {
	name := Param(ctx, "name")
	switch name {
	case "profile":
		serveTimed(ctx, "a CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
		return
	case "trace":
		serveTimed(ctx, "an execution trace", trace.Start, trace.Stop)
		return
	}
	p := pprof.Lookup(name)
	if p == nil {
		writeErrorf(ctx, fasthttp.StatusNotFound, "no profile %q", name)
		return
	}
	// As net/http/pprof: ?gc=1 collects first, so a heap profile shows
	// what is live now rather than at a collection that may be a minute
	// old (a daemon that recycles its buffers collects rarely); ?debug=1
	// is the text form, whose heap profile ends with the runtime's
	// MemStats (heap in use, released, stacks) that RSS is made of.
	args := ctx.QueryArgs()
	if queryInt(args, "gc") > 0 {
		runtime.GC()
	}
	debug := int(max(queryInt(args, "debug"), 0))
	if debug > 0 {
		ctx.SetContentType("text/plain; charset=utf-8")
	} else {
		ctx.SetContentType("application/octet-stream")
	}
	if err := p.WriteTo(ctx, debug); err != nil {
		writeErrorf(ctx, fasthttp.StatusInternalServerError, "profile %s: %v", name, err)
	}
}

// serveTimed records with start/stop for ?seconds= into the answer. A CPU
// profile alone says little of a daemon that is mostly asleep (a few ms of
// CPU a second at one stream); the trace shows each wake and what caused it.
func serveTimed(ctx *fasthttp.RequestCtx, what string, start func(io.Writer) error, stop func()) {
	secs := queryInt(ctx.QueryArgs(), "seconds")
	if secs < 1 {
		secs = 10
	}
	if secs > timedMax {
		writeErrorf(ctx, fasthttp.StatusBadRequest, "seconds must be 1-%d", timedMax)
		return
	}
	ctx.SetContentType("application/octet-stream")
	if err := start(ctx); err != nil {
		ctx.ResetBody()
		writeError(ctx, fasthttp.StatusConflict, what+" is already running")
		return
	}
	wait, cancel := context.WithTimeout(requestContext(ctx), time.Duration(secs)*time.Second)
	defer cancel()
	<-wait.Done()
	stop()
}
