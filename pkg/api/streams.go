package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
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

// streamJSON is LightNVR's stream object.
type streamJSON struct {
	Name                       string  `json:"name"`
	URL                        string  `json:"url"`
	Enabled                    bool    `json:"enabled"`
	StreamingEnabled           bool    `json:"streaming_enabled"`
	Width                      int     `json:"width"`
	Height                     int     `json:"height"`
	FPS                        int     `json:"fps"`
	Codec                      string  `json:"codec"`
	Priority                   int     `json:"priority"`
	Record                     bool    `json:"record"`
	SegmentDuration            int     `json:"segment_duration"`
	DetectionBasedRecording    bool    `json:"detection_based_recording"`
	DetectionModel             string  `json:"detection_model"`
	DetectionThreshold         int     `json:"detection_threshold"`
	DetectionInterval          int     `json:"detection_interval"`
	PreDetectionBuffer         int     `json:"pre_detection_buffer"`
	PostDetectionBuffer        int     `json:"post_detection_buffer"`
	DetectionObjectFilter      string  `json:"detection_object_filter"`
	DetectionObjectFilterList  string  `json:"detection_object_filter_list"`
	Protocol                   int     `json:"protocol"`
	RecordAudio                bool    `json:"record_audio"`
	AudioVoiceEnhancement      bool    `json:"audio_voice_enhancement"`
	IsONVIF                    bool    `json:"isOnvif"`
	BackchannelEnabled         bool    `json:"backchannel_enabled"`
	RetentionDays              int     `json:"retention_days"`
	DetectionRetentionDays     int     `json:"detection_retention_days"`
	MaxStorageMB               int     `json:"max_storage_mb"`
	TierCriticalMultiplier     float64 `json:"tier_critical_multiplier"`
	TierImportantMultiplier    float64 `json:"tier_important_multiplier"`
	TierEphemeralMultiplier    float64 `json:"tier_ephemeral_multiplier"`
	StoragePriority            int     `json:"storage_priority"`
	PTZEnabled                 bool    `json:"ptz_enabled"`
	PTZMaxX                    int     `json:"ptz_max_x"`
	PTZMaxY                    int     `json:"ptz_max_y"`
	PTZMaxZ                    int     `json:"ptz_max_z"`
	PTZHasHome                 bool    `json:"ptz_has_home"`
	ONVIFUsername              string  `json:"onvif_username"`
	ONVIFPassword              string  `json:"onvif_password"`
	ONVIFProfile               string  `json:"onvif_profile"`
	ONVIFPort                  int     `json:"onvif_port"`
	RecordOnSchedule           bool    `json:"record_on_schedule"`
	RecordingSchedule          []bool  `json:"recording_schedule"`
	DetectionRecordOnSchedule  bool    `json:"detection_record_on_schedule"`
	DetectionRecordingSchedule []bool  `json:"detection_recording_schedule"`
	Tags                       string  `json:"tags"`
	AdminURL                   string  `json:"admin_url"`
	PrivacyMode                bool    `json:"privacy_mode"`
	CanControlPrivacy          bool    `json:"can_control_privacy"`
	MotionTriggerSource        string  `json:"motion_trigger_source"`
	Go2RTCSourceOverride       string  `json:"go2rtc_source_override"`
	SubStreamURL               string  `json:"sub_stream_url"`
	HasSubStream               bool    `json:"has_sub_stream"`
	DetectionURL               string  `json:"detection_url"`
	PublishURL                 string  `json:"publish_url"`
	Status                     string  `json:"status"`
	ErrorMessage               string  `json:"error_message,omitempty"`
	Go2RTCHLSAvailable         bool    `json:"go2rtc_hls_available"`
	// Ours, beside LightNVR's: the state machine's own words.
	State       string `json:"state"`
	StateReason string `json:"state_reason,omitempty"`
}

const scheduleSlots = 168

func parseSchedule(s string) []bool {
	out := make([]bool, scheduleSlots)
	parts := strings.Split(s, ",")
	for i := range out {
		// NULL or short schedules mean "every hour", as in LightNVR.
		out[i] = i >= len(parts) || len(parts) < scheduleSlots || strings.TrimSpace(parts[i]) != "0"
	}
	return out
}

func formatSchedule(b []bool) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = "0"
		if v {
			parts[i] = "1"
		}
	}
	return strings.Join(parts, ",")
}

// withoutUserinfo drops the credentials of a URL whose stream keeps them in the
// ONVIF fields, so that a writer's form shows them once and a PUT of the form
// does not store them twice. A URL that does not parse is left to the writer.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

func (h *streamsHandler) streamToJSON(row *db.Stream, viewer bool) streamJSON {
	j := streamJSON{
		Name: row.Name, URL: row.URL, Enabled: row.Enabled, StreamingEnabled: row.StreamingEnabled,
		Width: row.Width, Height: row.Height, FPS: row.FPS, Codec: row.Codec, Priority: row.Priority,
		Record: row.Record, SegmentDuration: row.SegmentDuration, DetectionBasedRecording: row.DetectionBasedRecording,
		DetectionModel: row.DetectionModel, DetectionThreshold: int(math.Round(row.DetectionThreshold * 100)),
		DetectionInterval: row.DetectionInterval, PreDetectionBuffer: row.PreDetectionBuffer,
		PostDetectionBuffer: row.PostDetectionBuffer, DetectionObjectFilter: row.DetectionObjectFilter,
		DetectionObjectFilterList: row.DetectionObjectFilterList, Protocol: row.Protocol, RecordAudio: row.RecordAudio,
		AudioVoiceEnhancement: row.AudioVoiceEnhancement, IsONVIF: row.IsONVIF, BackchannelEnabled: row.BackchannelEnabled,
		RetentionDays: row.RetentionDays, DetectionRetentionDays: row.DetectionRetentionDays, MaxStorageMB: row.MaxStorageMB,
		TierCriticalMultiplier: row.TierCriticalMultiplier, TierImportantMultiplier: row.TierImportantMultiplier,
		TierEphemeralMultiplier: row.TierEphemeralMultiplier, StoragePriority: row.StoragePriority,
		PTZEnabled: row.PTZEnabled, PTZMaxX: row.PTZMaxX, PTZMaxY: row.PTZMaxY, PTZMaxZ: row.PTZMaxZ, PTZHasHome: row.PTZHasHome,
		ONVIFUsername: row.ONVIFUsername, ONVIFPassword: row.ONVIFPassword, ONVIFProfile: row.ONVIFProfile, ONVIFPort: row.ONVIFPort,
		RecordOnSchedule: row.RecordOnSchedule, RecordingSchedule: parseSchedule(row.RecordingSchedule),
		DetectionRecordOnSchedule: row.DetectionRecordOnSchedule, DetectionRecordingSchedule: parseSchedule(row.DetectionRecordingSchedule),
		Tags: row.Tags, AdminURL: row.AdminURL, PrivacyMode: row.PrivacyMode, CanControlPrivacy: !viewer,
		MotionTriggerSource: row.MotionTriggerSource, Go2RTCSourceOverride: row.Go2RTCSourceOverride,
		SubStreamURL: row.SubStreamURL, HasSubStream: row.SubStreamURL != "", DetectionURL: row.DetectionURL,
		PublishURL: row.PublishURL,
	}
	st := streams.Status{Name: row.Name, State: streams.StateInactive}
	if row.Enabled {
		st = h.status(row.Name)
	}
	j.Status = st.State.LightNVRStatus()
	j.State = string(st.State)
	j.StateReason = st.Reason
	if st.State == streams.StateError {
		j.ErrorMessage = st.Reason
	}
	j.Go2RTCHLSAvailable = st.State == streams.StateActive
	// State texts may quote go2rtc's errors, and those quote sources.
	j.StateReason, j.ErrorMessage = logx.RedactURL(j.StateReason), logx.RedactURL(j.ErrorMessage)
	if !viewer && row.ONVIFUsername != "" {
		j.URL = withoutUserinfo(j.URL)
	}
	if viewer {
		j.URL = logx.RedactURL(j.URL)
		j.AdminURL, j.SubStreamURL, j.DetectionURL, j.PublishURL, j.Go2RTCSourceOverride = "", "", "", "", ""
		j.ONVIFUsername, j.ONVIFPassword = "", ""
	}
	return j
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
	viewer := isViewer(ctx)
	out := make([]streamJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, h.streamToJSON(r, viewer))
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

// streamRequest is the body of POST and PUT: every field optional so a PUT can
// carry any subset. Read-only fields of the stream object are accepted and
// ignored, because LightNVR's UI sends the object it read back.
type streamRequest struct {
	Name                       *string  `json:"name"`
	URL                        *string  `json:"url"`
	Enabled                    *bool    `json:"enabled"`
	StreamingEnabled           *bool    `json:"streaming_enabled"`
	Width                      *int     `json:"width"`
	Height                     *int     `json:"height"`
	FPS                        *int     `json:"fps"`
	Codec                      *string  `json:"codec"`
	Priority                   *int     `json:"priority"`
	Record                     *bool    `json:"record"`
	SegmentDuration            *int     `json:"segment_duration"`
	DetectionBasedRecording    *bool    `json:"detection_based_recording"`
	DetectionModel             *string  `json:"detection_model"`
	DetectionThreshold         *float64 `json:"detection_threshold"`
	DetectionInterval          *int     `json:"detection_interval"`
	PreDetectionBuffer         *int     `json:"pre_detection_buffer"`
	PostDetectionBuffer        *int     `json:"post_detection_buffer"`
	DetectionObjectFilter      *string  `json:"detection_object_filter"`
	DetectionObjectFilterList  *string  `json:"detection_object_filter_list"`
	Protocol                   *int     `json:"protocol"`
	RecordAudio                *bool    `json:"record_audio"`
	AudioVoiceEnhancement      *bool    `json:"audio_voice_enhancement"`
	IsONVIF                    *bool    `json:"isOnvif"`
	IsONVIFSnake               *bool    `json:"is_onvif"`
	BackchannelEnabled         *bool    `json:"backchannel_enabled"`
	RetentionDays              *int     `json:"retention_days"`
	DetectionRetentionDays     *int     `json:"detection_retention_days"`
	MaxStorageMB               *int     `json:"max_storage_mb"`
	TierCriticalMultiplier     *float64 `json:"tier_critical_multiplier"`
	TierImportantMultiplier    *float64 `json:"tier_important_multiplier"`
	TierEphemeralMultiplier    *float64 `json:"tier_ephemeral_multiplier"`
	StoragePriority            *int     `json:"storage_priority"`
	PTZEnabled                 *bool    `json:"ptz_enabled"`
	PTZMaxX                    *int     `json:"ptz_max_x"`
	PTZMaxY                    *int     `json:"ptz_max_y"`
	PTZMaxZ                    *int     `json:"ptz_max_z"`
	PTZHasHome                 *bool    `json:"ptz_has_home"`
	ONVIFUsername              *string  `json:"onvif_username"`
	ONVIFPassword              *string  `json:"onvif_password"`
	ONVIFProfile               *string  `json:"onvif_profile"`
	ONVIFPort                  *int     `json:"onvif_port"`
	RecordOnSchedule           *bool    `json:"record_on_schedule"`
	RecordingSchedule          *[]bool  `json:"recording_schedule"`
	DetectionRecordOnSchedule  *bool    `json:"detection_record_on_schedule"`
	DetectionRecordingSchedule *[]bool  `json:"detection_recording_schedule"`
	Tags                       *string  `json:"tags"`
	AdminURL                   *string  `json:"admin_url"`
	PrivacyMode                *bool    `json:"privacy_mode"`
	MotionTriggerSource        *string  `json:"motion_trigger_source"`
	Go2RTCSourceOverride       *string  `json:"go2rtc_source_override"`
	SubStreamURL               *string  `json:"sub_stream_url"`
	DetectionURL               *string  `json:"detection_url"`
	PublishURL                 *string  `json:"publish_url"`
	// PUT only.
	EnableDisabled *bool `json:"enable_disabled"`
	SetPrivacyMode *bool `json:"set_privacy_mode"`
	// Read-only, ignored.
	Status             json.RawMessage `json:"status"`
	State              json.RawMessage `json:"state"`
	StateReason        json.RawMessage `json:"state_reason"`
	ErrorMessage       json.RawMessage `json:"error_message"`
	Go2RTCHLSAvailable json.RawMessage `json:"go2rtc_hls_available"`
	HasSubStream       json.RawMessage `json:"has_sub_stream"`
	CanControlPrivacy  json.RawMessage `json:"can_control_privacy"`
}

// checkSource checks a stream source a request sets. go2rtc turns some source
// syntax into process arguments, so the API takes only what go2rtc.CheckSource
// allows, for every role: custom pipelines belong in go2rtc's override file.
func checkSource(field, v string, required bool) error {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return fmt.Errorf("%s is required", field)
		}
		return nil
	}
	if err := go2rtc.CheckSource(v); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// checkChangedSources checks the source fields a request changed. Stored
// values it leaves alone (LightNVR imports, the demo stream's exec source) may
// be outside the allowlist and must not block edits of other fields.
func checkChangedSources(before, after *db.Stream) []error {
	errs := []error{}
	if after.URL != before.URL || after.URL == "" {
		errs = append(errs, checkSource("url", after.URL, true))
	}
	if after.SubStreamURL != before.SubStreamURL {
		errs = append(errs, checkSource("sub_stream_url", after.SubStreamURL, false))
	}
	if o := after.Go2RTCSourceOverride; o != "" && o != before.Go2RTCSourceOverride {
		tmp := *after
		for _, src := range streams.SourcesFor(&tmp) {
			errs = append(errs, checkSource("go2rtc_source_override", src, true))
		}
	}
	return errs
}

func checkURLScheme(field, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s is not a valid URL", field)
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return nil
		}
	}
	return fmt.Errorf("%s must use %s", field, strings.Join(schemes, ", "))
}

// apply copies the request onto row and checks every value.
func (r *streamRequest) apply(row *db.Stream) error {
	str := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	bl := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	in := func(dst *int, v *int, field string, lo, hi int) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("%s must be between %d and %d, not %d", field, lo, hi, *v)
		}
		*dst = *v
		return nil
	}
	fl := func(dst *float64, v *float64, field string, lo, hi float64) error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || *v < lo || *v > hi {
			return fmt.Errorf("%s must be between %g and %g", field, lo, hi)
		}
		*dst = *v
		return nil
	}
	before := *row
	str(&row.URL, r.URL)
	bl(&row.Enabled, r.Enabled)
	bl(&row.StreamingEnabled, r.StreamingEnabled)
	if r.Codec != nil {
		row.Codec = strings.ToLower(strings.TrimSpace(*r.Codec))
	}
	bl(&row.Record, r.Record)
	bl(&row.DetectionBasedRecording, r.DetectionBasedRecording)
	str(&row.DetectionModel, r.DetectionModel)
	str(&row.DetectionObjectFilterList, r.DetectionObjectFilterList)
	bl(&row.RecordAudio, r.RecordAudio)
	bl(&row.AudioVoiceEnhancement, r.AudioVoiceEnhancement)
	bl(&row.IsONVIF, r.IsONVIFSnake)
	bl(&row.IsONVIF, r.IsONVIF)
	bl(&row.BackchannelEnabled, r.BackchannelEnabled)
	bl(&row.PTZEnabled, r.PTZEnabled)
	bl(&row.PTZHasHome, r.PTZHasHome)
	str(&row.ONVIFUsername, r.ONVIFUsername)
	if r.ONVIFPassword != nil {
		row.ONVIFPassword = *r.ONVIFPassword // passwords may have edge spaces
	}
	str(&row.ONVIFProfile, r.ONVIFProfile)
	bl(&row.RecordOnSchedule, r.RecordOnSchedule)
	bl(&row.DetectionRecordOnSchedule, r.DetectionRecordOnSchedule)
	str(&row.Tags, r.Tags)
	str(&row.AdminURL, r.AdminURL)
	bl(&row.PrivacyMode, r.PrivacyMode)
	str(&row.MotionTriggerSource, r.MotionTriggerSource)
	if r.Go2RTCSourceOverride != nil {
		row.Go2RTCSourceOverride = strings.TrimSpace(*r.Go2RTCSourceOverride)
	}
	str(&row.SubStreamURL, r.SubStreamURL)
	str(&row.DetectionURL, r.DetectionURL)
	str(&row.PublishURL, r.PublishURL)

	errs := []error{
		in(&row.Priority, r.Priority, "priority", 1, 10),
		in(&row.SegmentDuration, r.SegmentDuration, "segment_duration", 1, 86400),
		in(&row.DetectionInterval, r.DetectionInterval, "detection_interval", 0, 86400),
		in(&row.PreDetectionBuffer, r.PreDetectionBuffer, "pre_detection_buffer", 0, 3600),
		in(&row.PostDetectionBuffer, r.PostDetectionBuffer, "post_detection_buffer", 0, 3600),
		in(&row.Protocol, r.Protocol, "protocol", 0, 1),
		in(&row.RetentionDays, r.RetentionDays, "retention_days", -1, 365),
		in(&row.DetectionRetentionDays, r.DetectionRetentionDays, "detection_retention_days", -1, 365),
		in(&row.MaxStorageMB, r.MaxStorageMB, "max_storage_mb", 0, math.MaxInt32),
		in(&row.StoragePriority, r.StoragePriority, "storage_priority", 1, 10),
		in(&row.PTZMaxX, r.PTZMaxX, "ptz_max_x", 0, math.MaxInt32),
		in(&row.PTZMaxY, r.PTZMaxY, "ptz_max_y", 0, math.MaxInt32),
		in(&row.PTZMaxZ, r.PTZMaxZ, "ptz_max_z", 0, math.MaxInt32),
		in(&row.ONVIFPort, r.ONVIFPort, "onvif_port", 0, 65535),
		fl(&row.TierCriticalMultiplier, r.TierCriticalMultiplier, "tier_critical_multiplier", 0, 100),
		fl(&row.TierImportantMultiplier, r.TierImportantMultiplier, "tier_important_multiplier", 0, 100),
		fl(&row.TierEphemeralMultiplier, r.TierEphemeralMultiplier, "tier_ephemeral_multiplier", 0, 100),
	}
	if r.DetectionThreshold != nil {
		v := *r.DetectionThreshold
		if math.IsNaN(v) || v < 0 || v > 100 {
			errs = append(errs, fmt.Errorf("detection_threshold must be a percentage 0-100, not %g", v))
		} else {
			row.DetectionThreshold = v / 100
		}
	}
	if r.DetectionObjectFilter != nil {
		switch f := strings.TrimSpace(*r.DetectionObjectFilter); f {
		case "none", "include", "exclude":
			row.DetectionObjectFilter = f
		default:
			errs = append(errs, fmt.Errorf("detection_object_filter must be none, include or exclude, not %q", f))
		}
	}
	for _, sch := range []struct {
		field string
		in    *[]bool
		out   *string
	}{{"recording_schedule", r.RecordingSchedule, &row.RecordingSchedule},
		{"detection_recording_schedule", r.DetectionRecordingSchedule, &row.DetectionRecordingSchedule}} {
		if sch.in == nil {
			continue
		}
		if len(*sch.in) != scheduleSlots {
			errs = append(errs, fmt.Errorf("%s must have %d entries (7 days x 24 hours), not %d", sch.field, scheduleSlots, len(*sch.in)))
			continue
		}
		*sch.out = formatSchedule(*sch.in)
	}
	errs = append(errs, checkChangedSources(&before, row)...)
	errs = append(errs,
		checkURLScheme("detection_url", row.DetectionURL, "http", "https", "rtsp", "rtsps"),
		checkURLScheme("publish_url", row.PublishURL, "rtmp", "rtmps"),
		checkURLScheme("admin_url", row.AdminURL, "http", "https"),
	)
	if row.MotionTriggerSource == row.Name && row.Name != "" {
		errs = append(errs, errors.New("motion_trigger_source cannot be the stream itself"))
	}
	return errors.Join(errs...)
}

func decodeStreamRequest(ctx *fasthttp.RequestCtx) (*streamRequest, bool) {
	var req streamRequest
	if !readJSON(ctx, &req) {
		return nil, false
	}
	return &req, true
}

func (h *streamWriter) handleCreateStream(ctx *fasthttp.RequestCtx) {
	c := requestContext(ctx)
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
	row := streams.NewStreamDefaults(name, "")
	// Width, height and fps come from the camera, not from the request.
	req.Width, req.Height, req.FPS = nil, nil, nil
	if err := req.apply(row); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if req.IsONVIF == nil && req.IsONVIFSnake == nil {
		row.IsONVIF = strings.Contains(strings.ToLower(row.URL), "onvif")
	}
	full, err := h.mgr.MaxStreamsReached(c, h.maxStreams)
	if err != nil {
		h.fail(ctx, "count streams", err)
		return
	}
	if full {
		writeErrorf(ctx, fasthttp.StatusConflict, "stream limit reached: [streams] max_streams is %d", h.maxStreams)
		return
	}
	if err := h.mgr.Create(c, row); err != nil {
		h.fail(ctx, "create stream", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"success": true})
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
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"success": true, "permanent": permanent, "status": "accepted"})
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
	if err := checkSource("url", req.URL, true); err != nil {
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
		var inv *streams.InvalidError
		if errors.As(err, &inv) {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "stream test failed: %s", inv.Error())
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
