package api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/streams"
)

// manualHandler serves a stream's recording state and its manual
// recording control, the live page's record button.
type manualHandler struct {
	*streamsHandler
	rec *streams.Recording
}

var manualRoutes = []endpoint[*manualHandler]{
	{"GET", "/api/streams/{name}/recording", auth.AccessViewer, (*manualHandler).handleState},
	{"POST", "/api/streams/{name}/recording", auth.AccessWriter, (*manualHandler).handleControl},
}

// handleState: GET /api/streams/{name}/recording → {stream, state,
// recording_active, capture_method, recording_id, manual_control_allowed,
// manual_control_reason}.
func (h *manualHandler) handleState(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	st := h.rec.RecordingState(s.Name)
	var reason, method *string
	if st.CaptureMethod != "" {
		method = &st.CaptureMethod
	}
	var id *int64
	if st.RecordingID != 0 {
		id = &st.RecordingID
	}
	switch p := PrincipalOf(ctx); {
	case p != nil && !p.Role.Allows(auth.AccessWriter):
		reason = ptr("read_only")
	case st.Continuous:
		reason = ptr("continuous_recording")
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"stream": s.Name, "state": st.State,
		"recording_active": st.State != streams.RecIdle, "capture_method": method, "recording_id": id,
		"manual_control_allowed": reason == nil, "manual_control_reason": reason})
}

// handleControl: POST /api/streams/{name}/recording {action: start|stop} →
// 202 {success, stream, action, state: "starting"} or 200 {…, state: "idle"}.
func (h *manualHandler) handleControl(ctx *fasthttp.RequestCtx) {
	var body struct {
		Action string `json:"action"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	if body.Action != "start" && body.Action != "stop" {
		writeErrorf(ctx, fasthttp.StatusBadRequest, `invalid action %q: use "start" or "stop"`, body.Action)
		return
	}
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	status, state := fasthttp.StatusOK, streams.RecIdle
	if body.Action == "stop" {
		h.rec.StopManual(s.Name)
	} else {
		err := h.rec.StartManual(s.Name)
		if errors.Is(err, streams.ErrNotRecordingStream) || errors.Is(err, streams.ErrRecordsContinuously) {
			err = &statusError{status: fasthttp.StatusConflict, msg: err.Error()}
		}
		if err != nil {
			h.fail(ctx, "start manual recording", err)
			return
		}
		status, state = fasthttp.StatusAccepted, streams.RecStarting
	}
	writeJSON(ctx, status, map[string]any{"success": true, "stream": s.Name, "action": body.Action, "state": state})
}

func ptr[T any](v T) *T { return &v }
