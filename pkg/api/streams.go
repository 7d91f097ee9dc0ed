package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/streams"
)

// streamsHandler serves reading the streams, from the database and the
// stream manager's state.
type streamsHandler struct {
	failer
	db *db.DB
	// status is a stream's state: the manager's, or inactive without one.
	status func(name string) streams.Status
	// liveHLS says whether /hls/ is served, for go2rtc_hls_available.
	liveHLS bool
}

// streamWriter serves changing the streams, through the stream manager.
type streamWriter struct {
	*streamsHandler
	mgr        *streams.Manager
	maxStreams int
}

// First match wins: the fixed and longer paths go before /api/streams/{name}.
var (
	streamReadRoutes = []endpoint[*streamsHandler]{
		{"GET", "/api/streams", auth.AccessViewer, (*streamsHandler).handleListStreams},
		{"GET", "/api/streams/{name}/full", auth.AccessViewer, (*streamsHandler).handleGetStreamFull},
		{"GET", "/api/streams/{name}", auth.AccessViewer, (*streamsHandler).handleGetStream},
	}
	streamWriteRoutes = []endpoint[*streamWriter]{
		{"POST", "/api/streams", auth.AccessWriter, (*streamWriter).handleCreateStream},
		{"POST", "/api/streams/test", auth.AccessWriter, (*streamWriter).handleTestStream},
		{"POST", "/api/streams/{name}/refresh", auth.AccessWriter, (*streamWriter).handleRefreshStream},
		{"PUT", "/api/streams/{name}", auth.AccessWriter, (*streamWriter).handleUpdateStream},
		{"DELETE", "/api/streams/{name}", auth.AccessWriter, (*streamWriter).handleDeleteStream},
	}
)

// streamTestTimeout bounds probing a source for POST /api/streams/test.
const streamTestTimeout = 20 * time.Second

// streamNameRe is LightNVR's rule for new stream names: letters, digits, '.',
// '-', '_', not starting with '.'.
var streamNameRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// maxStreamName is LightNVR's name buffer (64 bytes with its terminator).
const maxStreamName = 63

func validStreamName(name string) error {
	switch {
	case name == "":
		return errors.New("stream name is required")
	case len(name) > maxStreamName:
		return fmt.Errorf("stream name is %d characters; the limit is %d", len(name), maxStreamName)
	case !streamNameRe.MatchString(name):
		return fmt.Errorf("invalid stream name %q: use letters, digits, '.', '-' and '_', not starting with '.'", name)
	}
	return nil
}

func (h *streamsHandler) streamToJSON(row *db.Stream, viewer bool) any {
	st := streams.Status{Name: row.Name, State: streams.StateInactive}
	if row.Enabled {
		st = h.status(row.Name)
	}
	return streamObject(row, viewer, st, h.liveHLS)
}

func isViewer(ctx *fasthttp.RequestCtx) bool {
	p := PrincipalOf(ctx)
	return p == nil || p.Role == auth.RoleViewer
}

func (h *streamsHandler) handleListStreams(ctx *fasthttp.RequestCtx) {
	rows, err := db.ListStreams(requestContext(ctx), h.db)
	if err != nil {
		h.fail(ctx, "list streams", err)
		return
	}
	viewer, p := isViewer(ctx), PrincipalOf(ctx)
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		if p.MaySee(r.Tags) {
			out = append(out, h.streamToJSON(r, viewer))
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// loadStream fetches the {name} stream or answers 400/404 itself.
func (h *streamsHandler) loadStream(ctx *fasthttp.RequestCtx) (*db.Stream, bool) {
	name := Param(ctx, "name")
	if name == "" || len(name) > maxStreamName {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid stream name")
		return nil, false
	}
	row, err := db.StreamByName(requestContext(ctx), h.db, name)
	return found(ctx, h.failer, "load stream", row, err, db.ErrStreamNotFound, fmt.Sprintf("stream %q not found", name))
}

func (h *streamsHandler) handleGetStream(ctx *fasthttp.RequestCtx) {
	if row, ok := h.loadStream(ctx); ok {
		writeJSON(ctx, fasthttp.StatusOK, h.streamToJSON(row, isViewer(ctx)))
	}
}

func (h *streamsHandler) handleGetStreamFull(ctx *fasthttp.RequestCtx) {
	if row, ok := h.loadStream(ctx); ok {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"stream": h.streamToJSON(row, isViewer(ctx))})
	}
}

func decodeStreamRequest(ctx *fasthttp.RequestCtx) (*streamRequest, bool) {
	req, err := readStreamRequest(ctx)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return nil, false
	}
	return req, true
}

func (h *streamWriter) handleCreateStream(ctx *fasthttp.RequestCtx) {
	req, ok := decodeStreamRequest(ctx)
	if !ok {
		return
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	if err := validStreamName(name); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if req.EnableDisabled != nil || req.SetPrivacyMode != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "enable_disabled and set_privacy_mode are only valid on PUT /api/streams/{name}")
		return
	}
	// The URL starts empty so that the request's url is checked as a change.
	row := db.NewStream(name, "")
	if err := req.apply(row); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if !req.sets("isOnvif") {
		row.IsONVIF = strings.Contains(strings.ToLower(row.URL), "onvif")
	}
	if h.create(ctx, row) {
		writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"success": true})
	}
}

// create adds row within the stream limit; false means it answered the
// error itself.
func (h *streamWriter) create(ctx *fasthttp.RequestCtx, row *db.Stream) bool {
	c := requestContext(ctx)
	full, err := h.mgr.MaxStreamsReached(c, h.maxStreams)
	if err != nil {
		h.fail(ctx, "count streams", err)
		return false
	}
	if full {
		writeErrorf(ctx, fasthttp.StatusConflict, "stream limit reached: [streams] max_streams is %d", h.maxStreams)
		return false
	}
	if err := h.mgr.Create(c, row); err != nil {
		h.fail(ctx, "create stream", err)
		return false
	}
	return true
}

func (h *streamWriter) handleUpdateStream(ctx *fasthttp.RequestCtx) {
	c := requestContext(ctx)
	row, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	req, ok := decodeStreamRequest(ctx)
	if !ok {
		return
	}
	if req.Name != nil && strings.TrimSpace(*req.Name) != row.Name {
		writeError(ctx, fasthttp.StatusBadRequest, "streams cannot be renamed; name must match the path or be left out")
		return
	}
	if req.SetPrivacyMode != nil {
		row.PrivacyMode = *req.SetPrivacyMode
		if err := h.mgr.Update(c, row); err != nil {
			h.fail(ctx, "update stream", err)
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "privacy_mode": row.PrivacyMode})
		return
	}
	if req.EnableDisabled != nil && *req.EnableDisabled {
		row.Enabled = true
	}
	if err := req.apply(row); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if err := h.mgr.Update(c, row); err != nil {
		h.fail(ctx, "update stream", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"success": true, "message": "Stream update request accepted and processing"})
}

func (h *streamWriter) handleDeleteStream(ctx *fasthttp.RequestCtx) {
	row, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	permanent := false
	switch v := string(ctx.QueryArgs().Peek("permanent")); v {
	case "", "false", "0":
	case "true", "1":
		permanent = true
	default:
		writeErrorf(ctx, fasthttp.StatusBadRequest, "permanent must be true or false, not %q", v)
		return
	}
	if err := h.mgr.Delete(requestContext(ctx), row.Name, permanent); err != nil {
		h.fail(ctx, "delete stream", err)
		return
	}
	// The manager returns once the stream is stopped and out of go2rtc, so
	// the answer is 200 (LightNVR's clients accept 200, 204 and 404; its
	// 202 came from a worker that had not finished yet).
	msg := "Stream disabled"
	if permanent {
		msg = "Stream deleted"
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "permanent": permanent, "status": "deleted", "message": msg})
}

func (h *streamWriter) handleRefreshStream(ctx *fasthttp.RequestCtx) {
	row, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	if err := h.mgr.Refresh(requestContext(ctx), row.Name); err != nil {
		h.fail(ctx, "refresh stream", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"success": true, "message": "Stream refresh started", "stream": row.Name})
}

type streamTestRequest struct {
	URL           string `json:"url"`
	Protocol      int    `json:"protocol"`
	ONVIFUsername string `json:"onvif_username"`
	ONVIFPassword string `json:"onvif_password"`
}

func (h *streamWriter) handleTestStream(ctx *fasthttp.RequestCtx) {
	var req streamTestRequest
	if !readJSON(ctx, &req) {
		return
	}
	if err := streams.CheckSource("url", req.URL, true); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if req.Protocol != 0 && req.Protocol != 1 {
		writeErrorf(ctx, fasthttp.StatusBadRequest, "protocol must be 0 (TCP) or 1 (UDP), not %d", req.Protocol)
		return
	}
	tctx, cancel := context.WithTimeout(requestContext(ctx), streamTestTimeout)
	defer cancel()
	res, err := h.mgr.TestSource(tctx, strings.TrimSpace(req.URL), req.ONVIFUsername, req.ONVIFPassword)
	if err != nil {
		// A source that delivers no video is the probe's answer, not a bad
		// request: LightNVR's 200 {success:false, message}.
		var inv *streams.InvalidError
		if errors.As(err, &inv) {
			writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": false, "message": "stream test failed: " + logx.RedactURL(inv.Error())})
			return
		}
		h.fail(ctx, "test stream", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"success": true,
		"message": "stream delivers video",
		"info": map[string]any{
			"width": res.Width, "height": res.Height, "fps": int(math.Round(res.FPS)),
			"codec": strings.ToLower(strings.ReplaceAll(res.Codec, ".", "")),
		},
	})
}
