package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ErrStreamNotFound is returned when no streams row has the name.
var ErrStreamNotFound = errors.New("stream not found")

// ErrStreamExists is returned when an insert hits the unique stream name.
var ErrStreamExists = errors.New("stream already exists")

// Querier is what the stream queries run on: the database itself or a
// transaction (*Tx), so a caller can bracket a write and its side effects.
// Only this package can run SQL on it.
type Querier interface {
	conn() sqlConn
}

// Stream is one row of streams, LightNVR's columns as stored (the threshold is
// 0..1, schedules are the raw "1,0,…" text, NULL text reads as "").
//
// Each field's stream tag is the one description of its column: this file's
// SQL, the API's stream object and request body, a new stream's values and
// the checks on a request all come from it (StreamField lists the options).
// Fields are in the order of LightNVR's stream object. Adding a column is one
// line here and a migration.
type Stream struct {
	ID                         int64   `stream:"id,id"`
	Name                       string  `stream:"name,ident"`
	URL                        string  `stream:"url,viewer=redact"`
	Enabled                    bool    `stream:"enabled,default=true"`
	StreamingEnabled           bool    `stream:"streaming_enabled,default=true"`
	Width                      int     `stream:"width,default=1280,null=0,probed"`
	Height                     int     `stream:"height,default=720,null=0,probed"`
	FPS                        int     `stream:"fps,default=30,null=0,probed"`
	Codec                      string  `stream:"codec,default=h264,null=,lower"`
	Priority                   int     `stream:"priority,default=5,min=1,max=10"`
	Record                     bool    `stream:"record,default=true"`
	SegmentDuration            int     `stream:"segment_duration,default=30,null=900,min=1,max=86400"`
	DetectionBasedRecording    bool    `stream:"detection_based_recording"`
	DetectionModel             string  `stream:"detection_model"`
	DetectionThreshold         float64 `stream:"detection_threshold,default=0.5,percent"`
	DetectionInterval          int     `stream:"detection_interval,default=10,min=0,max=86400"`
	PreDetectionBuffer         int     `stream:"pre_detection_buffer,default=5,null=0,min=0,max=60"`
	PostDetectionBuffer        int     `stream:"post_detection_buffer,default=5,null=3,min=0,max=3600"`
	DetectionObjectFilter      string  `stream:"detection_object_filter,default=none,oneof=none|include|exclude"`
	DetectionObjectFilterList  string  `stream:"detection_object_filter_list"`
	Protocol                   int     `stream:"protocol,min=0,max=1"`
	RecordAudio                bool    `stream:"record_audio,default=true"`
	AudioVoiceEnhancement      bool    `stream:"audio_voice_enhancement"`
	IsONVIF                    bool    `stream:"is_onvif,key=isOnvif,alias=is_onvif"`
	BackchannelEnabled         bool    `stream:"backchannel_enabled"`
	RetentionDays              int     `stream:"retention_days,default=-1,null=30,min=-1,max=365,retention"`
	DetectionRetentionDays     int     `stream:"detection_retention_days,default=-1,null=90,min=-1,max=365,retention"`
	MaxStorageMB               int     `stream:"max_storage_mb,min=0,max=2147483647,retention"`
	TierCriticalMultiplier     float64 `stream:"tier_critical_multiplier,default=3.0,min=0,max=100"`
	TierImportantMultiplier    float64 `stream:"tier_important_multiplier,default=2.0,min=0,max=100"`
	TierEphemeralMultiplier    float64 `stream:"tier_ephemeral_multiplier,default=0.25,min=0,max=100"`
	StoragePriority            int     `stream:"storage_priority,default=5,min=1,max=10"`
	PTZEnabled                 bool    `stream:"ptz_enabled"`
	PTZMaxX                    int     `stream:"ptz_max_x,min=0,max=2147483647"`
	PTZMaxY                    int     `stream:"ptz_max_y,min=0,max=2147483647"`
	PTZMaxZ                    int     `stream:"ptz_max_z,min=0,max=2147483647"`
	PTZHasHome                 bool    `stream:"ptz_has_home"`
	ONVIFUsername              string  `stream:"onvif_username,viewer=hide"`
	ONVIFPassword              string  `stream:"onvif_password,viewer=hide,raw"`
	ONVIFProfile               string  `stream:"onvif_profile"`
	ONVIFPort                  int     `stream:"onvif_port,min=0,max=65535"`
	RecordOnSchedule           bool    `stream:"record_on_schedule"`
	RecordingSchedule          string  `stream:"recording_schedule,schedule"`
	DetectionRecordOnSchedule  bool    `stream:"detection_record_on_schedule"`
	DetectionRecordingSchedule string  `stream:"detection_recording_schedule,schedule"`
	Tags                       string  `stream:"tags"`
	AdminURL                   string  `stream:"admin_url,viewer=hide,schemes=http|https"`
	PrivacyMode                bool    `stream:"privacy_mode"`
	MotionTriggerSource        string  `stream:"motion_trigger_source"`
	Go2RTCSourceOverride       string  `stream:"go2rtc_source_override,viewer=hide"`
	SubStreamURL               string  `stream:"sub_stream_url,viewer=hide,present=has_sub_stream"`
	DetectionURL               string  `stream:"detection_url,viewer=hide,schemes=http|https|rtsp|rtsps"`
	PublishURL                 string  `stream:"publish_url,viewer=hide,schemes=rtmp|rtmps"`
	MotionMinDuration          int     `stream:"motion_min_duration,default=1,min=0,max=60"`
	MotionSensitivity          int     `stream:"motion_sensitivity,default=50,min=0,max=100"`
	DetectionAPIURL            string  `stream:"detection_api_url,internal"`
	BufferStrategy             string  `stream:"buffer_strategy,default=auto,internal"`
}

// NewStream is a new stream with every column's default (LightNVR's API
// defaults for creation).
func NewStream(name, url string) *Stream {
	s := &Stream{}
	v := reflect.ValueOf(s).Elem()
	for _, f := range StreamFields() {
		v.Field(f.index).Set(f.dflt)
	}
	s.Name, s.URL = name, url
	return s
}

// streamSelect reads every column; old LightNVR databases may hold NULL in
// columns added by ALTER TABLE, so each reads through COALESCE.
var streamSelect = func() string {
	cols := make([]string, 0, len(StreamFields()))
	for _, f := range StreamFields() {
		if f.ID {
			cols = append(cols, f.Column)
			continue
		}
		cols = append(cols, "COALESCE("+f.Column+", "+f.nullSQL+")")
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM streams"
}()

func scanStream(r rowScanner) (*Stream, error) {
	var s Stream
	v := reflect.ValueOf(&s).Elem()
	dest := make([]any, 0, len(StreamFields()))
	for _, f := range StreamFields() {
		dest = append(dest, v.Field(f.index).Addr().Interface())
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	return &s, nil
}

// streamWrite is the columns a write stores and their values: every column
// but the id, and without the name when updating (names never change).
func streamWrite(s *Stream, write func(*StreamField) bool) (cols []string, args []any) {
	v := reflect.ValueOf(s).Elem()
	for _, f := range StreamFields() {
		if f.ID || !write(f) {
			continue
		}
		arg := v.Field(f.index).Interface()
		if f.Schedule && arg == "" {
			arg = nil // NULL: every hour, as LightNVR reads it
		}
		cols, args = append(cols, f.Column), append(args, arg)
	}
	return cols, args
}

// ListStreams returns every stream, enabled or not, highest priority first, then by name.
func ListStreams(ctx context.Context, q Querier) ([]*Stream, error) {
	return queryAll(ctx, q, "list streams", scanStream, streamSelect+` ORDER BY COALESCE(priority, 5) DESC, name`)
}

// StreamByName returns the stream called name, or ErrStreamNotFound.
func StreamByName(ctx context.Context, q Querier, name string) (*Stream, error) {
	s, err := scanStream(q.conn().QueryRowContext(ctx, streamSelect+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("stream %q: %w", name, ErrStreamNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get stream %q: %w", name, err)
	}
	return s, nil
}

// CountStreams counts the rows of streams, enabled or not.
func CountStreams(ctx context.Context, q Querier) (int, error) {
	var n int
	if err := q.conn().QueryRowContext(ctx, `SELECT count(*) FROM streams`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count streams: %w", err)
	}
	return n, nil
}

// InsertStream adds s and sets s.ID; ErrStreamExists when the name is taken.
func InsertStream(ctx context.Context, q Querier, s *Stream) error {
	cols, args := streamWrite(s, func(*StreamField) bool { return true })
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	res, err := q.conn().ExecContext(ctx, `INSERT INTO streams (`+strings.Join(cols, ", ")+`) VALUES (`+marks+`)`, args...)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("insert stream %q: %w", s.Name, ErrStreamExists)
		}
		return fmt.Errorf("insert stream %q: %w", s.Name, err)
	}
	if s.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("insert stream %q: %w", s.Name, err)
	}
	return nil
}

// UpdateStream writes every column of s to the row with s's name (names never change).
func UpdateStream(ctx context.Context, q Querier, s *Stream) error {
	return updateStream(ctx, q, s, "update", func(f *StreamField) bool { return !f.Ident })
}

// UpdateStreamRetention writes only s's retention columns (the fields
// tagged retention), for the stream's own retention route.
func UpdateStreamRetention(ctx context.Context, q Querier, s *Stream) error {
	return updateStream(ctx, q, s, "set retention of", func(f *StreamField) bool { return f.Retention })
}

func updateStream(ctx context.Context, q Querier, s *Stream, what string, write func(*StreamField) bool) error {
	cols, args := streamWrite(s, write)
	res, err := q.conn().ExecContext(ctx, `UPDATE streams SET `+strings.Join(cols, " = ?, ")+` = ? WHERE name = ?`, append(args, s.Name)...)
	return streamAffected(res, err, what, s.Name)
}

// SetStreamEnabled flips enabled; LightNVR's soft delete is enabled = 0.
func SetStreamEnabled(ctx context.Context, q Querier, name string, enabled bool) error {
	res, err := q.conn().ExecContext(ctx, `UPDATE streams SET enabled = ? WHERE name = ?`, enabled, name)
	return streamAffected(res, err, "enable/disable", name)
}

// DeleteStream removes the row; recordings keep their stream_name.
func DeleteStream(ctx context.Context, q Querier, name string) error {
	res, err := q.conn().ExecContext(ctx, `DELETE FROM streams WHERE name = ?`, name)
	return streamAffected(res, err, "delete", name)
}

func streamAffected(res sql.Result, err error, what, name string) error {
	if err != nil {
		return fmt.Errorf("%s stream %q: %w", what, name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s stream %q: %w", what, name, err)
	}
	if n == 0 {
		return fmt.Errorf("%s stream %q: %w", what, name, ErrStreamNotFound)
	}
	return nil
}
