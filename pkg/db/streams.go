package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
type Stream struct {
	ID                         int64
	Name                       string
	URL                        string
	Enabled                    bool
	StreamingEnabled           bool
	Width                      int
	Height                     int
	FPS                        int
	Codec                      string
	Priority                   int
	Record                     bool
	SegmentDuration            int
	DetectionBasedRecording    bool
	DetectionModel             string
	DetectionThreshold         float64
	DetectionInterval          int
	PreDetectionBuffer         int
	PostDetectionBuffer        int
	Protocol                   int
	IsONVIF                    bool
	RecordAudio                bool
	DetectionAPIURL            string
	BackchannelEnabled         bool
	RetentionDays              int
	DetectionRetentionDays     int
	MaxStorageMB               int
	PTZEnabled                 bool
	PTZMaxX                    int
	PTZMaxY                    int
	PTZMaxZ                    int
	PTZHasHome                 bool
	BufferStrategy             string
	ONVIFUsername              string
	ONVIFPassword              string
	ONVIFProfile               string
	DetectionObjectFilter      string
	DetectionObjectFilterList  string
	TierCriticalMultiplier     float64
	TierImportantMultiplier    float64
	TierEphemeralMultiplier    float64
	StoragePriority            int
	RecordOnSchedule           bool
	RecordingSchedule          string
	Tags                       string
	ONVIFPort                  int
	AdminURL                   string
	PrivacyMode                bool
	MotionTriggerSource        string
	Go2RTCSourceOverride       string
	SubStreamURL               string
	AudioVoiceEnhancement      bool
	DetectionURL               string
	PublishURL                 string
	DetectionRecordOnSchedule  bool
	DetectionRecordingSchedule string
}

// streamCols lists the writable columns in the order of streamArgs.
var streamCols = []string{
	"name", "url", "enabled", "streaming_enabled", "width", "height", "fps", "codec", "priority", "record",
	"segment_duration", "detection_based_recording", "detection_model", "detection_threshold", "detection_interval",
	"pre_detection_buffer", "post_detection_buffer", "protocol", "is_onvif", "record_audio", "detection_api_url",
	"backchannel_enabled", "retention_days", "detection_retention_days", "max_storage_mb", "ptz_enabled",
	"ptz_max_x", "ptz_max_y", "ptz_max_z", "ptz_has_home", "buffer_strategy", "onvif_username", "onvif_password",
	"onvif_profile", "detection_object_filter", "detection_object_filter_list", "tier_critical_multiplier",
	"tier_important_multiplier", "tier_ephemeral_multiplier", "storage_priority", "record_on_schedule",
	"recording_schedule", "tags", "onvif_port", "admin_url", "privacy_mode", "motion_trigger_source",
	"go2rtc_source_override", "sub_stream_url", "audio_voice_enhancement", "detection_url", "publish_url",
	"detection_record_on_schedule", "detection_recording_schedule",
}

func streamArgs(s *Stream) []any {
	return []any{
		s.Name, s.URL, s.Enabled, s.StreamingEnabled, s.Width, s.Height, s.FPS, s.Codec, s.Priority, s.Record,
		s.SegmentDuration, s.DetectionBasedRecording, s.DetectionModel, s.DetectionThreshold, s.DetectionInterval,
		s.PreDetectionBuffer, s.PostDetectionBuffer, s.Protocol, s.IsONVIF, s.RecordAudio, s.DetectionAPIURL,
		s.BackchannelEnabled, s.RetentionDays, s.DetectionRetentionDays, s.MaxStorageMB, s.PTZEnabled,
		s.PTZMaxX, s.PTZMaxY, s.PTZMaxZ, s.PTZHasHome, s.BufferStrategy, s.ONVIFUsername, s.ONVIFPassword,
		s.ONVIFProfile, s.DetectionObjectFilter, s.DetectionObjectFilterList, s.TierCriticalMultiplier,
		s.TierImportantMultiplier, s.TierEphemeralMultiplier, s.StoragePriority, s.RecordOnSchedule,
		nullIfEmpty(s.RecordingSchedule), s.Tags, s.ONVIFPort, s.AdminURL, s.PrivacyMode, s.MotionTriggerSource,
		s.Go2RTCSourceOverride, s.SubStreamURL, s.AudioVoiceEnhancement, s.DetectionURL, s.PublishURL,
		s.DetectionRecordOnSchedule, nullIfEmpty(s.DetectionRecordingSchedule),
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Old LightNVR databases may hold NULL in columns added by ALTER TABLE, so every
// column is read through COALESCE with the schema's default.
const streamSelect = `SELECT id, name, url, COALESCE(enabled, 1), COALESCE(streaming_enabled, 1),
	COALESCE(width, 0), COALESCE(height, 0), COALESCE(fps, 0), COALESCE(codec, ''), COALESCE(priority, 5),
	COALESCE(record, 1), COALESCE(segment_duration, 900), COALESCE(detection_based_recording, 0),
	COALESCE(detection_model, ''), COALESCE(detection_threshold, 0.5), COALESCE(detection_interval, 10),
	COALESCE(pre_detection_buffer, 0), COALESCE(post_detection_buffer, 3), COALESCE(protocol, 0),
	COALESCE(is_onvif, 0), COALESCE(record_audio, 1), COALESCE(detection_api_url, ''),
	COALESCE(backchannel_enabled, 0), COALESCE(retention_days, 30), COALESCE(detection_retention_days, 90),
	COALESCE(max_storage_mb, 0), COALESCE(ptz_enabled, 0), COALESCE(ptz_max_x, 0), COALESCE(ptz_max_y, 0),
	COALESCE(ptz_max_z, 0), COALESCE(ptz_has_home, 0), COALESCE(buffer_strategy, 'auto'),
	COALESCE(onvif_username, ''), COALESCE(onvif_password, ''), COALESCE(onvif_profile, ''),
	COALESCE(detection_object_filter, 'none'), COALESCE(detection_object_filter_list, ''),
	COALESCE(tier_critical_multiplier, 3.0), COALESCE(tier_important_multiplier, 2.0),
	COALESCE(tier_ephemeral_multiplier, 0.25), COALESCE(storage_priority, 5), COALESCE(record_on_schedule, 0),
	COALESCE(recording_schedule, ''), COALESCE(tags, ''), COALESCE(onvif_port, 0), COALESCE(admin_url, ''),
	COALESCE(privacy_mode, 0), COALESCE(motion_trigger_source, ''), COALESCE(go2rtc_source_override, ''),
	COALESCE(sub_stream_url, ''), COALESCE(audio_voice_enhancement, 0), COALESCE(detection_url, ''),
	COALESCE(publish_url, ''), COALESCE(detection_record_on_schedule, 0),
	COALESCE(detection_recording_schedule, '')
	FROM streams`

func scanStream(r rowScanner) (*Stream, error) {
	var s Stream
	err := r.Scan(&s.ID, &s.Name, &s.URL, &s.Enabled, &s.StreamingEnabled, &s.Width, &s.Height, &s.FPS, &s.Codec,
		&s.Priority, &s.Record, &s.SegmentDuration, &s.DetectionBasedRecording, &s.DetectionModel,
		&s.DetectionThreshold, &s.DetectionInterval, &s.PreDetectionBuffer, &s.PostDetectionBuffer, &s.Protocol,
		&s.IsONVIF, &s.RecordAudio, &s.DetectionAPIURL, &s.BackchannelEnabled, &s.RetentionDays,
		&s.DetectionRetentionDays, &s.MaxStorageMB, &s.PTZEnabled, &s.PTZMaxX, &s.PTZMaxY, &s.PTZMaxZ,
		&s.PTZHasHome, &s.BufferStrategy, &s.ONVIFUsername, &s.ONVIFPassword, &s.ONVIFProfile,
		&s.DetectionObjectFilter, &s.DetectionObjectFilterList, &s.TierCriticalMultiplier,
		&s.TierImportantMultiplier, &s.TierEphemeralMultiplier, &s.StoragePriority, &s.RecordOnSchedule,
		&s.RecordingSchedule, &s.Tags, &s.ONVIFPort, &s.AdminURL, &s.PrivacyMode, &s.MotionTriggerSource,
		&s.Go2RTCSourceOverride, &s.SubStreamURL, &s.AudioVoiceEnhancement, &s.DetectionURL, &s.PublishURL,
		&s.DetectionRecordOnSchedule, &s.DetectionRecordingSchedule)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// ListStreams returns every stream, enabled or not, highest priority first, then by name.
func ListStreams(ctx context.Context, q Querier) ([]*Stream, error) {
	rows, err := q.conn().QueryContext(ctx, streamSelect+` ORDER BY COALESCE(priority, 5) DESC, name`)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	defer rows.Close()
	var out []*Stream
	for rows.Next() {
		s, err := scanStream(rows)
		if err != nil {
			return nil, fmt.Errorf("list streams: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return out, nil
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
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(streamCols)), ", ")
	res, err := q.conn().ExecContext(ctx, `INSERT INTO streams (`+strings.Join(streamCols, ", ")+`) VALUES (`+marks+`)`, streamArgs(s)...)
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
	sets := make([]string, 0, len(streamCols)-1)
	for _, c := range streamCols[1:] {
		sets = append(sets, c+" = ?")
	}
	args := append(streamArgs(s)[1:], s.Name)
	res, err := q.conn().ExecContext(ctx, `UPDATE streams SET `+strings.Join(sets, ", ")+` WHERE name = ?`, args...)
	return streamAffected(res, err, "update", s.Name)
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
