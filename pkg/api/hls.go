package api

import (
	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/hls"
)

// liveHLSRoutes mounts live HLS when the streams' pipelines run (their hubs
// are what it is cut from); s.live stays nil otherwise.
func (s *Server) liveHLSRoutes(deps *Deps) {
	if deps.Ingest != nil {
		s.live = hls.New(hls.Config{Hub: deps.Ingest.Hub, Logger: s.log})
	}
	mount(&s.router, hlsRoutes, s.live != nil, unavailable("live HLS needs the stream pipelines"), func() *hlsHandler {
		return &hlsHandler{failer: s.failer, live: s.live}
	})
}

// hlsRoutes serve live HLS at LightNVR's address. The stream is in the
// path, so allowed_tags apply before the handler runs.
var hlsRoutes = []endpoint[*hlsHandler]{
	{"GET", "/hls/{stream}/{file}", auth.AccessViewer, (*hlsHandler).handleFile},
}

// hlsHandler serves live HLS cut in memory from the streams' hubs.
type hlsHandler struct {
	failer
	live *hls.Server
}

func (h *hlsHandler) handleFile(ctx *fasthttp.RequestCtx) {
	name, file := Param(ctx, "stream"), Param(ctx, "file")
	// An unknown stream has no running pipeline either: 404.
	rctx := requestContext(ctx)
	var (
		body  []byte
		ctype = "application/vnd.apple.mpegurl"
		err   error
	)
	if file == "index.m3u8" {
		q := ctx.QueryArgs()
		body, err = h.live.Playlist(rctx, name, queryInt(q, "_HLS_msn"), queryInt(q, "_HLS_part"))
	} else {
		body, ctype, err = h.live.File(rctx, name, file)
	}
	if err != nil {
		h.fail(ctx, "live HLS", err)
		return
	}
	ctx.SetContentType(ctype)
	// Playlists change with every part; parts and segments never change.
	if file == "index.m3u8" {
		ctx.Response.Header.Set("Cache-Control", "no-cache")
	} else {
		ctx.Response.Header.Set("Cache-Control", "private, max-age=60")
	}
	ctx.SetBody(body)
}

// queryInt is a non-negative integer query parameter, -1 when absent or
// malformed.
func queryInt(q *fasthttp.Args, key string) int64 {
	v, err := q.GetUint(key)
	if err != nil {
		return -1
	}
	return int64(v)
}
