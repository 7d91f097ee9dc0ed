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
	"lightnvr/pkg/streams"
)

func (s *Server) registerStreamRoutes() {
	// First match wins: the fixed and longer paths go before /api/streams/{name}.
	s.route("GET", "/api/streams", auth.AccessViewer, s.handleListStreams)
	s.route("POST", "/api/streams", auth.AccessWriter, s.handleCreateStream)
	s.route("POST", "/api/streams/test", auth.AccessWriter, s.handleTestStream)
	s.route("GET", "/api/streams/{name}/full", auth.AccessViewer, s.handleGetStreamFull)
	s.route("POST", "/api/streams/{name}/refresh", auth.AccessWriter, s.handleRefreshStream)
	s.route("GET", "/api/streams/{name}", auth.AccessViewer, s.handleGetStream)
	s.route("PUT", "/api/streams/{name}", auth.AccessWriter, s.handleUpdateStream)
	s.route("DELETE", "/api/streams/{name}", auth.AccessWriter, s.handleDeleteStream)
}

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

func (s *Server) streamToJSON(row *db.Stream, viewer bool) jsonObject {
	st := streams.Status{Name: row.Name, State: streams.StateInactive}
	if s.deps.Streams != nil && row.Enabled {
		st = s.deps.Streams.StatusOf(row.Name)
	}
	return encodeStream(row, viewer, st)
}

// opContext bounds the database and go2rtc work of one request. The
// RequestCtx itself is not used as a context: it ends only at server shutdown.
func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

func isViewer(ctx *fasthttp.RequestCtx) bool {
	p := PrincipalOf(ctx)
	return p == nil || p.Role == auth.RoleViewer
}

func (s *Server) streamsReady(ctx *fasthttp.RequestCtx) bool {
	if s.deps.DB == nil || s.deps.Streams == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "stream manager is not running")
		return false
	}
	return true
}

func (s *Server) handleListStreams(ctx *fasthttp.RequestCtx) {
	if s.deps.DB == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "database is not open")
		return
	}
	c, cancel := opContext()
	defer cancel()
	rows, err := db.ListStreams(c, s.deps.DB)
	if err != nil {
		s.log.Error("list streams", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "list streams: "+err.Error())
		return
	}
	viewer := isViewer(ctx)
	out := make([]jsonObject, 0, len(rows))
	for _, r := range rows {
		out = append(out, s.streamToJSON(r, viewer))
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// loadStream fetches the {name} stream or answers 400/404 itself.
func (s *Server) loadStream(ctx *fasthttp.RequestCtx) (*db.Stream, bool) {
	if s.deps.DB == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "database is not open")
		return nil, false
	}
	name := Param(ctx, "name")
	if name == "" || len(name) > maxStreamName {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid stream name")
		return nil, false
	}
	c, cancel := opContext()
	defer cancel()
	row, err := db.StreamByName(c, s.deps.DB, name)
	if errors.Is(err, db.ErrStreamNotFound) {
		writeErrorf(ctx, fasthttp.StatusNotFound, "stream %q not found", name)
		return nil, false
	}
	if err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return nil, false
	}
	return row, true
}

func (s *Server) handleGetStream(ctx *fasthttp.RequestCtx) {
	if row, ok := s.loadStream(ctx); ok {
		writeJSON(ctx, fasthttp.StatusOK, s.streamToJSON(row, isViewer(ctx)))
	}
}

func (s *Server) handleGetStreamFull(ctx *fasthttp.RequestCtx) {
	if row, ok := s.loadStream(ctx); ok {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"stream": s.streamToJSON(row, isViewer(ctx))})
	}
}

func (s *Server) decodeStreamRequest(ctx *fasthttp.RequestCtx) (*streamRequest, bool) {
	req, err := readStreamRequest(ctx)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return nil, false
	}
	return req, true
}

// writeManagerError maps a manager error to a status.
func (s *Server) writeManagerError(ctx *fasthttp.RequestCtx, err error) {
	var inv *streams.InvalidError
	switch {
	case errors.Is(err, db.ErrStreamExists):
		writeError(ctx, fasthttp.StatusConflict, "a stream with that name already exists")
	case errors.Is(err, streams.ErrNotFound), errors.Is(err, db.ErrStreamNotFound):
		writeError(ctx, fasthttp.StatusNotFound, "stream not found")
	case errors.As(err, &inv):
		writeError(ctx, fasthttp.StatusBadRequest, inv.Error())
	case errors.Is(err, streams.ErrGo2RTCUnavailable):
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(ctx, fasthttp.StatusGatewayTimeout, err.Error())
	default:
		s.log.Error("stream change failed", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
	}
}

func (s *Server) handleCreateStream(ctx *fasthttp.RequestCtx) {
	if !s.streamsReady(ctx) {
		return
	}
	c, cancel := opContext()
	defer cancel()
	req, ok := s.decodeStreamRequest(ctx)
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
	if s.deps.Config != nil {
		full, err := s.deps.Streams.MaxStreamsReached(c, s.deps.Config.Streams.MaxStreams)
		if err != nil {
			writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
			return
		}
		if full {
			writeErrorf(ctx, fasthttp.StatusConflict, "stream limit reached: [streams] max_streams is %d", s.deps.Config.Streams.MaxStreams)
			return
		}
	}
	if err := s.deps.Streams.Create(c, row); err != nil {
		s.writeManagerError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"success": true})
}

func (s *Server) handleUpdateStream(ctx *fasthttp.RequestCtx) {
	if !s.streamsReady(ctx) {
		return
	}
	c, cancel := opContext()
	defer cancel()
	row, ok := s.loadStream(ctx)
	if !ok {
		return
	}
	req, ok := s.decodeStreamRequest(ctx)
	if !ok {
		return
	}
	if req.Name != nil && strings.TrimSpace(*req.Name) != row.Name {
		writeError(ctx, fasthttp.StatusBadRequest, "streams cannot be renamed; name must match the path or be left out")
		return
	}
	if req.SetPrivacyMode != nil {
		row.PrivacyMode = *req.SetPrivacyMode
		if err := s.deps.Streams.Update(c, row); err != nil {
			s.writeManagerError(ctx, err)
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
	if err := s.deps.Streams.Update(c, row); err != nil {
		s.writeManagerError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"success": true, "message": "Stream update request accepted and processing"})
}

func (s *Server) handleDeleteStream(ctx *fasthttp.RequestCtx) {
	if !s.streamsReady(ctx) {
		return
	}
	c, cancel := opContext()
	defer cancel()
	row, ok := s.loadStream(ctx)
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
	if err := s.deps.Streams.Delete(c, row.Name, permanent); err != nil {
		s.writeManagerError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"success": true, "permanent": permanent, "status": "accepted"})
}

func (s *Server) handleRefreshStream(ctx *fasthttp.RequestCtx) {
	if !s.streamsReady(ctx) {
		return
	}
	c, cancel := opContext()
	defer cancel()
	row, ok := s.loadStream(ctx)
	if !ok {
		return
	}
	if err := s.deps.Streams.Refresh(c, row.Name); err != nil {
		s.writeManagerError(ctx, err)
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

func (s *Server) handleTestStream(ctx *fasthttp.RequestCtx) {
	if !s.streamsReady(ctx) {
		return
	}
	var req streamTestRequest
	if err := decodeJSON(ctx, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
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
	tctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.deps.Streams.TestSource(tctx, strings.TrimSpace(req.URL), req.ONVIFUsername, req.ONVIFPassword)
	if err != nil {
		var inv *streams.InvalidError
		if errors.As(err, &inv) {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "stream test failed: %s", inv.Error())
			return
		}
		s.writeManagerError(ctx, err)
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
