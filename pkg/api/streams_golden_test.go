package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// -update rewrites the golden files under testdata/ from what the code does now.
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkGolden compares got with testdata/name byte for byte.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s changed:\n got %s\nwant %s", name, got, want)
	}
}

// goldenStreams are rows whose every column differs from its default: a
// camera with credentials in the URL and in the ONVIF fields, one with the
// credentials only in the URL, and a LightNVR row with NULL columns.
func goldenStreams() []*db.Stream {
	sched := make([]string, 168)
	for i := range sched {
		sched[i] = fmt.Sprint(i % 2)
	}
	full := &db.Stream{
		Name: "yard", URL: "rtsp://admin:s3cret@10.0.0.5:554/main", Enabled: false, StreamingEnabled: true,
		Width: 1920, Height: 1080, FPS: 15, Codec: "h265", Priority: 7, Record: true, SegmentDuration: 120,
		DetectionBasedRecording: true, DetectionModel: "motion", DetectionThreshold: 0.374, DetectionInterval: 3,
		PreDetectionBuffer: 4, PostDetectionBuffer: 9, Protocol: 1, IsONVIF: true, RecordAudio: true,
		DetectionAPIURL: "http://det:9000/", BackchannelEnabled: true, RetentionDays: 14, DetectionRetentionDays: 60,
		MaxStorageMB: 2048, PTZEnabled: true, PTZMaxX: 100, PTZMaxY: 50, PTZMaxZ: 10, PTZHasHome: true,
		BufferStrategy: "memory_packet", ONVIFUsername: "onvif", ONVIFPassword: " p@ss ", ONVIFProfile: "Profile_1",
		DetectionObjectFilter: "include", DetectionObjectFilterList: "person,car", TierCriticalMultiplier: 4.5,
		TierImportantMultiplier: 1.5, TierEphemeralMultiplier: 0.1, StoragePriority: 8, RecordOnSchedule: true,
		RecordingSchedule: strings.Join(sched, ","), Tags: "outdoor,<front>", ONVIFPort: 8080,
		AdminURL: "http://u:p@10.0.0.5/", PrivacyMode: true, MotionTriggerSource: "door",
		Go2RTCSourceOverride: "- rtsp://u:p@10.0.0.5/a\n- rtsp://10.0.0.5/b", SubStreamURL: "rtsp://u:p@10.0.0.5/sub",
		AudioVoiceEnhancement: true, DetectionURL: "http://u:p@10.0.0.5/mjpeg", PublishURL: "rtmp://u:p@live/x",
		DetectionRecordOnSchedule: true, DetectionRecordingSchedule: "0,1", MotionMinDuration: 5,
	}
	plain := &db.Stream{Name: "door", URL: "rtsp://user:pa55@10.0.0.6/s?token=abc", Enabled: false,
		DetectionThreshold: 0.5, DetectionObjectFilter: "none"}
	return []*db.Stream{full, plain}
}

// TestStreamJSONGolden pins the stream object every role reads, byte for byte.
func TestStreamJSONGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "golden.db")
	d := testkit.OpenDB(t, path)
	ctx := context.Background()
	for _, s := range goldenStreams() {
		if err := db.InsertStream(ctx, d, s); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = raw.Close() }()
	// A row as LightNVR's older schema left it: NULL in later columns.
	if _, err := raw.Exec(`INSERT INTO streams (name, url, enabled) VALUES ('legacy', 'rtsp://10.0.0.7/s', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := nullColumns(raw, "legacy"); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Deps{Config: config.Default(), DB: d, Logger: quietLog, Auth: streamTestAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(role, uri string) []byte {
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod("GET")
		rc.Request.SetRequestURI(uri)
		rc.Request.Header.Set("X-Test-Role", role)
		srv.Handle(&rc)
		if rc.Response.StatusCode() != 200 {
			t.Fatalf("%s %s: %d %s", role, uri, rc.Response.StatusCode(), rc.Response.Body())
		}
		return append(rc.Response.Body(), '\n')
	}
	for _, role := range []string{"admin", "viewer"} {
		for _, name := range []string{"yard", "door", "legacy"} {
			checkGolden(t, "streams/"+role+"_"+name+".json", get(role, "/api/streams/"+name))
		}
		checkGolden(t, "streams/"+role+"_list.json", get(role, "/api/streams"))
		checkGolden(t, "streams/"+role+"_full.json", get(role, "/api/streams/yard/full"))
	}
}

// nullColumns sets every nullable column of the row to NULL.
func nullColumns(raw *sql.DB, name string) error {
	rows, err := raw.Query(`SELECT name FROM pragma_table_info('streams') WHERE "notnull" = 0 AND pk = 0`)
	if err != nil {
		return err
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return err
		}
		cols = append(cols, c+" = NULL")
	}
	if err := rows.Close(); err != nil {
		return err
	}
	_, err = raw.Exec(`UPDATE streams SET `+strings.Join(cols, ", ")+` WHERE name = ?`, name)
	return err
}

// dumpStream is the stored row, column by column, with SQLite's types.
func dumpStream(t *testing.T, e *streamEnv, name string) []byte {
	t.Helper()
	raw, err := sql.Open("sqlite3", e.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = raw.Close() }()
	rows, err := raw.Query(`SELECT * FROM streams WHERE name = ?`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("no row %q", name)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, c := range cols {
		if c == "id" {
			continue
		}
		switch v := vals[i].(type) {
		case nil:
			fmt.Fprintf(&b, "%s NULL\n", c)
		case []byte:
			fmt.Fprintf(&b, "%s %q\n", c, v)
		default:
			fmt.Fprintf(&b, "%s %T %#v\n", c, v, v)
		}
	}
	// The camera's port changes from run to run.
	return []byte(strings.ReplaceAll(b.String(), e.cam.URL(), "rtsp://camera/pattern"))
}

// TestStreamRequestGolden pins what POST and PUT store and what they refuse.
func TestStreamRequestGolden(t *testing.T) {
	e := newStreamEnv(t)
	cam := e.cam.URL()
	if code, body := e.do(t, "admin", "POST", "/api/streams", `{"name":"min","url":" `+cam+` ","width":99}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	checkGolden(t, "streams/post_min.txt", dumpStream(t, e, "min"))

	sched := "[" + strings.TrimSuffix(strings.Repeat("true,false,", 84), ",") + "]"
	every := `{"name":"min","url":"` + cam + `?video","enabled":true,"streaming_enabled":false,"width":1,"height":2,
		"fps":3,"codec":" H265 ","priority":9,"record":false,"segment_duration":60,"detection_based_recording":true,
		"detection_model":" motion ","detection_threshold":37.5,"detection_interval":4,"pre_detection_buffer":6,
		"post_detection_buffer":7,"detection_object_filter":" exclude ","detection_object_filter_list":" cat ",
		"protocol":1,"record_audio":false,"audio_voice_enhancement":true,"is_onvif":false,"isOnvif":true,
		"backchannel_enabled":true,"retention_days":0,"detection_retention_days":365,"max_storage_mb":10,
		"tier_critical_multiplier":5,"tier_important_multiplier":0,"tier_ephemeral_multiplier":0.5,
		"storage_priority":1,"ptz_enabled":true,"ptz_max_x":1,"ptz_max_y":2,"ptz_max_z":3,"ptz_has_home":true,
		"onvif_username":" me ","onvif_password":" pw ","onvif_profile":" P ","onvif_port":65535,
		"record_on_schedule":true,"recording_schedule":` + sched + `,"detection_record_on_schedule":true,
		"detection_recording_schedule":` + sched + `,"tags":" a,b ","admin_url":" https://cam/ ","privacy_mode":false,
		"motion_trigger_source":" other ","go2rtc_source_override":"","sub_stream_url":" ` + cam + `?sub ",
		"detection_url":" rtsp://cam/det ","publish_url":" rtmp://live/x ","motion_min_duration":7,"motion_sensitivity":70,"status":"x","state":1,"state_reason":null,
		"error_message":"e","go2rtc_hls_available":true,"has_sub_stream":false,"can_control_privacy":1}`
	if code, body := e.do(t, "admin", "PUT", "/api/streams/min", every); code != 202 {
		t.Fatalf("put every field: %d %s", code, body)
	}
	checkGolden(t, "streams/put_every.txt", dumpStream(t, e, "min"))
	// PUT changes only the keys it carries; null is an absent key.
	if code, body := e.do(t, "admin", "PUT", "/api/streams/min", `{"priority":2,"tags":null,"recording_schedule":null}`); code != 202 {
		t.Fatalf("put subset: %d %s", code, body)
	}
	checkGolden(t, "streams/put_subset.txt", dumpStream(t, e, "min"))

	bad := `{"priority":0,"segment_duration":0,"detection_interval":-1,"pre_detection_buffer":3601,
		"post_detection_buffer":-1,"protocol":2,"retention_days":-2,"detection_retention_days":366,"max_storage_mb":-1,
		"storage_priority":11,"ptz_max_x":-1,"ptz_max_y":-1,"ptz_max_z":-1,"onvif_port":65536,
		"tier_critical_multiplier":101,"tier_important_multiplier":-1,"tier_ephemeral_multiplier":100.5,
		"detection_threshold":100.5,"detection_object_filter":"all","recording_schedule":[true],
		"detection_recording_schedule":[],"detection_url":"ftp://x/y","publish_url":"rtmp:nohost",
		"admin_url":"rtsp://cam/","motion_min_duration":61,"motion_sensitivity":101,"motion_trigger_source":"min","sub_stream_url":"exec:sh","url":""}`
	code, body := e.do(t, "admin", "PUT", "/api/streams/min", bad)
	var reply struct {
		Error string `json:"error"`
	}
	if code != 400 || json.Unmarshal(body, &reply) != nil {
		t.Fatalf("put bad values: %d %s", code, body)
	}
	// errors.Join's lines, sorted: the set of messages is what is pinned.
	lines := strings.Split(reply.Error, "\n")
	slices.Sort(lines)
	checkGolden(t, "streams/put_bad.txt", []byte(strings.Join(lines, "\n")+"\n"))
	// Decoding: types, unknown and internal keys, case-insensitive keys.
	var out []byte
	for _, body := range []string{`{"priority":"high"}`, `{"recording_schedule":[1]}`, `{"buffer_strategy":"auto"}`,
		`{"detection_api_url":"http://x/"}`, `{"id":3}`, `{"PRIORITY":4,"IsOnvif":false}`} {
		code, got := e.do(t, "admin", "PUT", "/api/streams/min", body)
		out = fmt.Appendf(out, "%s -> %d %s\n", body, code, got)
	}
	out = append(out, dumpStream(t, e, "min")...)
	checkGolden(t, "streams/put_decode.txt", out)
}

// streamJSON is LightNVR's stream object as a client reads it, with Go types.
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
