package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"lightnvr/migrations"
)

// schColumn is one row of PRAGMA table_info. dflt is the default expression
// as SQLite reports it ("" = none, "”" = empty string).
type schColumn struct {
	name    string
	typ     string
	notnull bool
	dflt    string
	pk      int
}

func schCol(name, typ string, notnull bool, dflt string) schColumn {
	return schColumn{name: name, typ: typ, notnull: notnull, dflt: dflt}
}

func schPK(name, typ string) schColumn { return schColumn{name: name, typ: typ, pk: 1} }

const schNow = "strftime('%s','now')"

// schLightNVRTables is LightNVR 0.37.2's schema after migration 0046, table by
// table, columns in order.
var schLightNVRTables = map[string][]schColumn{
	"streams": {
		schPK("id", "INTEGER"),
		schCol("name", "TEXT", true, ""),
		schCol("url", "TEXT", true, ""),
		schCol("enabled", "INTEGER", false, "1"),
		schCol("streaming_enabled", "INTEGER", false, "1"),
		schCol("width", "INTEGER", false, "1280"),
		schCol("height", "INTEGER", false, "720"),
		schCol("fps", "INTEGER", false, "30"),
		schCol("codec", "TEXT", false, "'h264'"),
		schCol("priority", "INTEGER", false, "5"),
		schCol("record", "INTEGER", false, "1"),
		schCol("segment_duration", "INTEGER", false, "900"),
		schCol("detection_based_recording", "INTEGER", false, "0"),
		schCol("detection_model", "TEXT", false, "''"),
		schCol("detection_threshold", "REAL", false, "0.5"),
		schCol("detection_interval", "INTEGER", false, "10"),
		schCol("pre_detection_buffer", "INTEGER", false, "0"),
		schCol("post_detection_buffer", "INTEGER", false, "3"),
		schCol("protocol", "INTEGER", false, "0"),
		schCol("is_onvif", "INTEGER", false, "0"),
		schCol("record_audio", "INTEGER", false, "1"),
		schCol("detection_api_url", "TEXT", false, "''"),
		schCol("backchannel_enabled", "INTEGER", false, "0"),
		schCol("retention_days", "INTEGER", false, "30"),
		schCol("detection_retention_days", "INTEGER", false, "90"),
		schCol("max_storage_mb", "INTEGER", false, "0"),
		schCol("ptz_enabled", "INTEGER", false, "0"),
		schCol("ptz_max_x", "INTEGER", false, "0"),
		schCol("ptz_max_y", "INTEGER", false, "0"),
		schCol("ptz_max_z", "INTEGER", false, "0"),
		schCol("ptz_has_home", "INTEGER", false, "0"),
		schCol("buffer_strategy", "TEXT", false, "'auto'"),
		schCol("onvif_username", "TEXT", false, "''"),
		schCol("onvif_password", "TEXT", false, "''"),
		schCol("onvif_profile", "TEXT", false, "''"),
		schCol("detection_object_filter", "TEXT", false, "'none'"),
		schCol("detection_object_filter_list", "TEXT", false, "''"),
		schCol("tier_critical_multiplier", "REAL", false, "3.0"),
		schCol("tier_important_multiplier", "REAL", false, "2.0"),
		schCol("tier_ephemeral_multiplier", "REAL", false, "0.25"),
		schCol("storage_priority", "INTEGER", false, "5"),
		schCol("record_on_schedule", "INTEGER", true, "0"),
		schCol("recording_schedule", "TEXT", false, ""),
		schCol("tags", "TEXT", true, "''"),
		schCol("onvif_port", "INTEGER", false, "0"),
		schCol("admin_url", "TEXT", false, "''"),
		schCol("privacy_mode", "INTEGER", false, "0"),
		schCol("motion_trigger_source", "TEXT", false, "''"),
		schCol("go2rtc_source_override", "TEXT", false, "''"),
		schCol("sub_stream_url", "TEXT", false, "''"),
		schCol("audio_voice_enhancement", "INTEGER", false, "0"),
		schCol("detection_url", "TEXT", false, "''"),
		schCol("publish_url", "TEXT", false, "''"),
		schCol("detection_record_on_schedule", "INTEGER", true, "0"),
		schCol("detection_recording_schedule", "TEXT", false, ""),
	},
	"recordings": {
		schPK("id", "INTEGER"),
		schCol("stream_name", "TEXT", true, ""),
		schCol("file_path", "TEXT", true, ""),
		schCol("start_time", "INTEGER", true, ""),
		schCol("end_time", "INTEGER", false, ""),
		schCol("size_bytes", "INTEGER", false, "0"),
		schCol("width", "INTEGER", false, ""),
		schCol("height", "INTEGER", false, ""),
		schCol("fps", "INTEGER", false, ""),
		schCol("codec", "TEXT", false, ""),
		schCol("is_complete", "INTEGER", false, "0"),
		schCol("created_at", "INTEGER", false, schNow),
		schCol("trigger_type", "TEXT", false, "'scheduled'"),
		schCol("protected", "INTEGER", false, "0"),
		schCol("retention_override_days", "INTEGER", false, ""),
		schCol("retention_tier", "INTEGER", false, "2"),
		schCol("disk_pressure_eligible", "INTEGER", false, "1"),
		schCol("schedule_restricted", "INTEGER", false, ""),
	},
	"detections": {
		schPK("id", "INTEGER"),
		schCol("stream_name", "TEXT", true, ""),
		schCol("timestamp", "INTEGER", true, ""),
		schCol("label", "TEXT", true, ""),
		schCol("confidence", "REAL", true, ""),
		schCol("x", "REAL", false, ""),
		schCol("y", "REAL", false, ""),
		schCol("width", "REAL", false, ""),
		schCol("height", "REAL", false, ""),
		schCol("recording_id", "INTEGER", false, ""),
		schCol("created_at", "INTEGER", false, schNow),
		schCol("track_id", "INTEGER", false, "-1"),
		schCol("zone_id", "TEXT", false, "''"),
		schCol("source", "TEXT", true, "''"),
		schCol("event_end_time", "INTEGER", false, ""),
	},
	"events": {
		schPK("id", "INTEGER"),
		schCol("type", "INTEGER", true, ""),
		schCol("timestamp", "INTEGER", true, ""),
		schCol("stream_name", "TEXT", false, ""),
		schCol("description", "TEXT", true, ""),
		schCol("details", "TEXT", false, ""),
	},
	"users": {
		schPK("id", "INTEGER"),
		schCol("username", "TEXT", true, ""),
		schCol("password_hash", "TEXT", true, ""),
		schCol("salt", "TEXT", true, ""),
		schCol("role", "TEXT", true, ""),
		schCol("email", "TEXT", false, ""),
		schCol("created_at", "INTEGER", true, schNow),
		schCol("updated_at", "INTEGER", true, schNow),
		schCol("last_login", "INTEGER", false, ""),
		schCol("is_active", "INTEGER", false, "1"),
		schCol("api_key", "TEXT", false, ""),
		schCol("password_change_locked", "INTEGER", false, "0"),
		schCol("totp_secret", "TEXT", false, ""),
		schCol("totp_enabled", "INTEGER", false, "0"),
		schCol("allowed_tags", "TEXT", false, ""),
		schCol("allowed_login_cidrs", "TEXT", false, ""),
	},
	"sessions": {
		schPK("id", "INTEGER"),
		schCol("user_id", "INTEGER", true, ""),
		schCol("token", "TEXT", true, ""),
		schCol("created_at", "INTEGER", true, schNow),
		schCol("expires_at", "INTEGER", true, ""),
		schCol("ip_address", "TEXT", false, ""),
		schCol("user_agent", "TEXT", false, ""),
		schCol("last_activity_at", "INTEGER", false, ""),
		schCol("idle_expires_at", "INTEGER", false, ""),
	},
	"trusted_devices": {
		schPK("id", "INTEGER"),
		schCol("user_id", "INTEGER", true, ""),
		schCol("token", "TEXT", true, ""),
		schCol("ip_address", "TEXT", false, ""),
		schCol("user_agent", "TEXT", false, ""),
		schCol("created_at", "INTEGER", true, schNow),
		schCol("last_used_at", "INTEGER", false, ""),
		schCol("expires_at", "INTEGER", true, ""),
	},
	"detection_zones": {
		schPK("id", "TEXT"),
		schCol("stream_name", "TEXT", true, ""),
		schCol("name", "TEXT", true, ""),
		schCol("enabled", "INTEGER", false, "1"),
		schCol("color", "TEXT", false, "'#3b82f6'"),
		schCol("polygon", "TEXT", true, ""),
		schCol("filter_classes", "TEXT", false, "''"),
		schCol("min_confidence", "REAL", false, "0.0"),
		schCol("created_at", "INTEGER", true, schNow),
		schCol("updated_at", "INTEGER", true, schNow),
	},
	"recording_tags": {
		schPK("id", "INTEGER"),
		schCol("recording_id", "INTEGER", true, ""),
		schCol("tag", "TEXT", true, ""),
		schCol("created_at", "INTEGER", false, schNow),
	},
	"system_settings": {
		schPK("key", "TEXT"),
		schCol("value", "TEXT", true, "''"),
		schCol("updated_at", "INTEGER", true, schNow),
	},
	"storage_daily_stats": {
		schPK("id", "INTEGER"),
		schCol("date", "TEXT", true, ""),
		schCol("stream_name", "TEXT", true, ""),
		schCol("tier", "INTEGER", true, "2"),
		schCol("recording_count", "INTEGER", true, "0"),
		schCol("total_bytes", "INTEGER", true, "0"),
		schCol("deleted_count", "INTEGER", true, "0"),
		schCol("deleted_bytes", "INTEGER", true, "0"),
		schCol("created_at", "TIMESTAMP", false, "CURRENT_TIMESTAMP"),
	},
	"motion_recording_config": {
		schPK("id", "INTEGER"),
		schCol("stream_name", "TEXT", true, ""),
		schCol("enabled", "INTEGER", false, "1"),
		schCol("pre_buffer_seconds", "INTEGER", false, "5"),
		schCol("post_buffer_seconds", "INTEGER", false, "5"),
		schCol("max_file_duration", "INTEGER", false, "300"),
		schCol("codec", "TEXT", false, "'h264'"),
		schCol("quality", "TEXT", false, "'medium'"),
		schCol("retention_days", "INTEGER", false, "7"),
		schCol("max_storage_mb", "INTEGER", false, "0"),
		schCol("created_at", "INTEGER", true, ""),
		schCol("updated_at", "INTEGER", true, ""),
	},
	"motion_recordings": {
		schPK("id", "INTEGER"),
		schCol("stream_name", "TEXT", true, ""),
		schCol("file_path", "TEXT", true, ""),
		schCol("start_time", "INTEGER", true, ""),
		schCol("end_time", "INTEGER", false, ""),
		schCol("size_bytes", "INTEGER", false, "0"),
		schCol("width", "INTEGER", false, ""),
		schCol("height", "INTEGER", false, ""),
		schCol("fps", "INTEGER", false, ""),
		schCol("codec", "TEXT", false, ""),
		schCol("is_complete", "INTEGER", false, "0"),
		schCol("created_at", "INTEGER", true, ""),
	},
	"motion_settings": {
		schPK("id", "INTEGER"),
		schCol("stream_name", "TEXT", true, ""),
		schCol("enabled", "INTEGER", false, "0"),
		schCol("sensitivity", "REAL", false, "0.5"),
		schCol("threshold", "REAL", false, "0.01"),
		schCol("cooldown_seconds", "INTEGER", false, "5"),
		schCol("min_motion_frames", "INTEGER", false, "3"),
		schCol("created_at", "INTEGER", true, schNow),
		schCol("updated_at", "INTEGER", true, schNow),
	},
	"schema_migrations": {
		schPK("version", "TEXT"),
		schCol("applied_at", "INTEGER", true, schNow),
	},
}

// schIndex is an index that must exist: on these columns, in order.
type schIndex struct {
	table  string
	cols   []string
	unique bool
}

var schLightNVRIndexes = []schIndex{
	{"streams", []string{"name"}, true},
	{"recordings", []string{"stream_name"}, false},
	{"recordings", []string{"start_time"}, false},
	{"recordings", []string{"end_time"}, false},
	{"recordings", []string{"protected"}, false},
	{"recordings", []string{"trigger_type"}, false},
	{"recordings", []string{"retention_tier"}, false},
	{"recordings", []string{"disk_pressure_eligible"}, false},
	{"recordings", []string{"is_complete", "stream_name", "start_time"}, false},
	{"detections", []string{"stream_name"}, false},
	{"detections", []string{"timestamp"}, false},
	{"detections", []string{"label"}, false},
	{"detections", []string{"recording_id"}, false},
	{"detections", []string{"stream_name", "timestamp"}, false},
	{"detections", []string{"stream_name", "source", "timestamp", "event_end_time"}, false},
	{"events", []string{"timestamp"}, false},
	{"events", []string{"type"}, false},
	{"events", []string{"stream_name"}, false},
	{"users", []string{"username"}, true},
	{"users", []string{"api_key"}, false},
	{"sessions", []string{"token"}, true},
	{"sessions", []string{"user_id"}, false},
	{"sessions", []string{"user_id", "last_activity_at"}, false},
	{"trusted_devices", []string{"user_id"}, false},
	{"trusted_devices", []string{"token"}, true},
	{"trusted_devices", []string{"expires_at"}, false},
	{"detection_zones", []string{"stream_name"}, false},
	{"recording_tags", []string{"recording_id", "tag"}, true},
	{"recording_tags", []string{"tag"}, false},
	{"recording_tags", []string{"recording_id"}, false},
	{"storage_daily_stats", []string{"stream_name", "date"}, false},
	{"storage_daily_stats", []string{"date", "tier"}, false},
	{"motion_recording_config", []string{"stream_name"}, true},
	{"motion_recordings", []string{"file_path"}, true},
	{"motion_recordings", []string{"stream_name"}, false},
	{"motion_recordings", []string{"start_time"}, false},
	{"motion_recordings", []string{"is_complete"}, false},
	{"motion_settings", []string{"stream_name"}, true},
}

// Indexes created by name in the documentation.
var schLightNVRIndexNames = []string{"idx_streams_name", "idx_detection_zones_stream"}

// migSubFS returns the embedded migrations whose version is in [lo, hi].
func migSubFS(t testing.TB, lo, hi int) fstest.MapFS {
	t.Helper()
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil || v < lo || v > hi {
			continue
		}
		b, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// migLightNVRFS holds LightNVR's own migrations, 0001–0046.
func migLightNVRFS(t testing.TB) fstest.MapFS {
	fsys := migSubFS(t, 1, 46)
	if len(fsys) != 46 {
		t.Fatalf("embedded FS holds %d migrations in 0001–0046, want 46", len(fsys))
	}
	return fsys
}

func schTableColumns(t testing.TB, q Querier, table string) []schColumn {
	t.Helper()
	rows, err := q.conn().QueryContext(context.Background(),
		`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, table)
	if err != nil {
		t.Fatalf("table_info(%s): %v", table, err)
	}
	defer func() { _ = rows.Close() }()
	var cols []schColumn
	for rows.Next() {
		var c schColumn
		var dflt sql.NullString
		if err := rows.Scan(&c.name, &c.typ, &c.notnull, &dflt, &c.pk); err != nil {
			t.Fatal(err)
		}
		c.dflt = schNormDefault(dflt.String)
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols
}

// schNormDefault drops whitespace outside quotes so "strftime('%s', 'now')"
// and "strftime('%s','now')" compare equal.
func schNormDefault(s string) string {
	var b strings.Builder
	quoted := false
	for _, r := range s {
		if r == '\'' {
			quoted = !quoted
		}
		if !quoted && (r == ' ' || r == '\t' || r == '\n') {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func schUserTables(t testing.TB, d *DB) []string {
	t.Helper()
	return mustQuery(t, d, scanOne[string], `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
}

// schAssertLightNVR checks every documented table column by column.
// With exact, the database must hold nothing else; otherwise later
// migrations may add tables and append columns.
func schAssertLightNVR(t *testing.T, d *DB, exact bool) {
	t.Helper()
	var want []string
	for table := range schLightNVRTables {
		want = append(want, table)
	}
	slices.Sort(want)
	got := schUserTables(t, d)
	if exact && !slices.Equal(got, want) {
		t.Errorf("tables:\n got %v\nwant %v", got, want)
	}
	for _, table := range want {
		cols := schTableColumns(t, d, table)
		wantCols := schLightNVRTables[table]
		if len(cols) == 0 {
			t.Errorf("table %s missing", table)
			continue
		}
		if !exact && len(cols) > len(wantCols) {
			cols = cols[:len(wantCols)]
		}
		if len(cols) != len(wantCols) {
			t.Errorf("%s: %d columns, want %d:\n got %v\nwant %v", table, len(cols), len(wantCols), cols, wantCols)
			continue
		}
		for i := range cols {
			w := wantCols[i]
			w.dflt = schNormDefault(w.dflt)
			if cols[i] != w {
				t.Errorf("%s column %d:\n got %+v\nwant %+v", table, i, cols[i], w)
			}
		}
	}
	schAssertIndexes(t, d)
}

type schIndexInfo struct {
	name   string
	cols   []string
	unique bool
}

func schTableIndexes(t testing.TB, d *DB, table string) []schIndexInfo {
	t.Helper()
	out := mustQuery(t, d, scanFields(func(ix *schIndexInfo) []any { return []any{&ix.name, &ix.unique} }),
		`SELECT name, "unique" FROM pragma_index_list(?)`, table)
	for i := range out {
		out[i].cols = mustQuery(t, d, scanOne[string], `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, out[i].name)
	}
	return out
}

func schAssertIndexes(t *testing.T, d *DB) {
	t.Helper()
	byTable := map[string][]schIndexInfo{}
	names := map[string]bool{}
	for _, want := range schLightNVRIndexes {
		ixs, ok := byTable[want.table]
		if !ok {
			ixs = schTableIndexes(t, d, want.table)
			byTable[want.table] = ixs
			for _, ix := range ixs {
				names[ix.name] = true
			}
		}
		found := false
		for _, ix := range ixs {
			if slices.Equal(ix.cols, want.cols) && (ix.unique || !want.unique) {
				found = true
			}
		}
		if !found {
			t.Errorf("no index on %s(%s) (unique=%v); have %v", want.table, strings.Join(want.cols, ", "), want.unique, ixs)
		}
	}
	for _, n := range schLightNVRIndexNames {
		if !names[n] {
			t.Errorf("index %s missing", n)
		}
	}
}

func migAppliedVersions(t testing.TB, d *DB) []string {
	t.Helper()
	return mustQuery(t, d, scanOne[string], `SELECT version FROM schema_migrations ORDER BY version`)
}

func migVersionRange(lo, hi int) []string {
	var out []string
	for v := lo; v <= hi; v++ {
		out = append(out, fmt.Sprintf("%04d", v))
	}
	return out
}
