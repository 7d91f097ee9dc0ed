-- What the migrations leave in a new database; applySnapshot (snapshot.go)
-- runs it. Generated: go test ./pkg/db -run TestSchemaSnapshot -update. Do not edit.
-- versions: 0001 0002 0003 0004 0005 0006 0007 0008 0009 0010 0011 0012 0013 0014 0015 0016 0017 0018 0019 0020 0021 0022 0023 0024 0025 0026 0027 0028 0029 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 0040 0041 0042 0043 0044 0045 0046 0100 0110 0115 0116 0120 0140 0150 0151
CREATE TABLE schema_migrations (
    version    TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE TABLE streams (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL UNIQUE,
    url               TEXT NOT NULL,
    enabled           INTEGER DEFAULT 1,
    streaming_enabled INTEGER DEFAULT 1,
    width             INTEGER DEFAULT 1280,
    height            INTEGER DEFAULT 720,
    fps               INTEGER DEFAULT 30,
    codec             TEXT DEFAULT 'h264',
    priority          INTEGER DEFAULT 5,
    record            INTEGER DEFAULT 1,
    segment_duration  INTEGER DEFAULT 900
, detection_based_recording INTEGER DEFAULT 0, detection_model TEXT DEFAULT '', detection_threshold REAL DEFAULT 0.5, detection_interval INTEGER DEFAULT 10, pre_detection_buffer INTEGER DEFAULT 0, post_detection_buffer INTEGER DEFAULT 3, protocol INTEGER DEFAULT 0, is_onvif INTEGER DEFAULT 0, record_audio INTEGER DEFAULT 1, detection_api_url TEXT DEFAULT '', backchannel_enabled INTEGER DEFAULT 0, retention_days INTEGER DEFAULT 30, detection_retention_days INTEGER DEFAULT 90, max_storage_mb INTEGER DEFAULT 0, ptz_enabled INTEGER DEFAULT 0, ptz_max_x INTEGER DEFAULT 0, ptz_max_y INTEGER DEFAULT 0, ptz_max_z INTEGER DEFAULT 0, ptz_has_home INTEGER DEFAULT 0, buffer_strategy TEXT DEFAULT 'auto', onvif_username TEXT DEFAULT '', onvif_password TEXT DEFAULT '', onvif_profile TEXT DEFAULT '', detection_object_filter TEXT DEFAULT 'none', detection_object_filter_list TEXT DEFAULT '', tier_critical_multiplier REAL DEFAULT 3.0, tier_important_multiplier REAL DEFAULT 2.0, tier_ephemeral_multiplier REAL DEFAULT 0.25, storage_priority INTEGER DEFAULT 5, record_on_schedule INTEGER NOT NULL DEFAULT 0, recording_schedule TEXT, tags TEXT NOT NULL DEFAULT '', onvif_port INTEGER DEFAULT 0, admin_url TEXT DEFAULT '', privacy_mode INTEGER DEFAULT 0, motion_trigger_source TEXT DEFAULT '', go2rtc_source_override TEXT DEFAULT '', sub_stream_url TEXT DEFAULT '', audio_voice_enhancement INTEGER DEFAULT 0, detection_url TEXT DEFAULT '', publish_url TEXT DEFAULT '', detection_record_on_schedule INTEGER NOT NULL DEFAULT 0, detection_recording_schedule TEXT, motion_min_duration INTEGER DEFAULT 1, motion_sensitivity INTEGER DEFAULT 50);
CREATE TABLE recordings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_name TEXT NOT NULL,
    file_path   TEXT NOT NULL,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER,
    size_bytes  INTEGER DEFAULT 0,
    width       INTEGER,
    height      INTEGER,
    fps         INTEGER,
    codec       TEXT,
    is_complete INTEGER DEFAULT 0,
    created_at  INTEGER DEFAULT (strftime('%s', 'now'))
, trigger_type TEXT DEFAULT 'scheduled', protected INTEGER DEFAULT 0, retention_override_days INTEGER, retention_tier INTEGER DEFAULT 2, disk_pressure_eligible INTEGER DEFAULT 1, schedule_restricted INTEGER);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        INTEGER NOT NULL,
    timestamp   INTEGER NOT NULL,
    stream_name TEXT,
    description TEXT NOT NULL,
    details     TEXT
);
CREATE INDEX idx_recordings_stream_name ON recordings (stream_name);
CREATE INDEX idx_recordings_start_time ON recordings (start_time);
CREATE TABLE detections (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_name  TEXT NOT NULL,
    timestamp    INTEGER NOT NULL,
    label        TEXT NOT NULL,
    confidence   REAL NOT NULL,
    x            REAL,
    y            REAL,
    width        REAL,
    height       REAL,
    recording_id INTEGER REFERENCES recordings (id) ON DELETE SET NULL,
    created_at   INTEGER DEFAULT (strftime('%s', 'now'))
, track_id INTEGER DEFAULT -1, zone_id TEXT DEFAULT '', source TEXT NOT NULL DEFAULT '', event_end_time INTEGER);
CREATE INDEX idx_detections_stream_name ON detections (stream_name);
CREATE INDEX idx_detections_timestamp ON detections (timestamp);
CREATE INDEX idx_detections_label ON detections (label);
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    salt          TEXT NOT NULL,
    role          TEXT NOT NULL,
    email         TEXT,
    created_at    INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    updated_at    INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    last_login    INTEGER,
    is_active     INTEGER DEFAULT 1,
    api_key       TEXT
, password_change_locked INTEGER DEFAULT 0, totp_secret TEXT, totp_enabled INTEGER DEFAULT 0, allowed_tags TEXT, allowed_login_cidrs TEXT, api_key_hash TEXT, totp_last_step INTEGER NOT NULL DEFAULT 0);
CREATE INDEX idx_users_api_key ON users (api_key);
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token      TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    expires_at INTEGER NOT NULL
, ip_address TEXT, user_agent TEXT, last_activity_at INTEGER, idle_expires_at INTEGER);
CREATE INDEX idx_sessions_token ON sessions (token);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE TABLE motion_settings (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_name       TEXT NOT NULL UNIQUE,
    enabled           INTEGER DEFAULT 0,
    sensitivity       REAL DEFAULT 0.5,
    threshold         REAL DEFAULT 0.01,
    cooldown_seconds  INTEGER DEFAULT 5,
    min_motion_frames INTEGER DEFAULT 3,
    created_at        INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    updated_at        INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE TABLE detection_zones (
    id             TEXT PRIMARY KEY,
    stream_name    TEXT NOT NULL REFERENCES streams (name) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    enabled        INTEGER DEFAULT 1,
    color          TEXT DEFAULT '#3b82f6',
    polygon        TEXT NOT NULL,
    filter_classes TEXT DEFAULT '',
    min_confidence REAL DEFAULT 0.0,
    created_at     INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    updated_at     INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE INDEX idx_recordings_protected ON recordings (protected);
CREATE INDEX idx_recordings_trigger_type ON recordings (trigger_type);
CREATE TABLE motion_recording_config (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_name         TEXT NOT NULL UNIQUE REFERENCES streams (name) ON DELETE CASCADE,
    enabled             INTEGER DEFAULT 1,
    pre_buffer_seconds  INTEGER DEFAULT 5,
    post_buffer_seconds INTEGER DEFAULT 5,
    max_file_duration   INTEGER DEFAULT 300,
    codec               TEXT DEFAULT 'h264',
    quality             TEXT DEFAULT 'medium',
    retention_days      INTEGER DEFAULT 7,
    max_storage_mb      INTEGER DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE TABLE motion_recordings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_name TEXT NOT NULL REFERENCES streams (name) ON DELETE CASCADE,
    file_path   TEXT NOT NULL UNIQUE,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER,
    size_bytes  INTEGER DEFAULT 0,
    width       INTEGER,
    height      INTEGER,
    fps         INTEGER,
    codec       TEXT,
    is_complete INTEGER DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_motion_recordings_stream_name ON motion_recordings (stream_name);
CREATE INDEX idx_motion_recordings_start_time ON motion_recordings (start_time);
CREATE INDEX idx_motion_recordings_is_complete ON motion_recordings (is_complete);
CREATE INDEX idx_detection_zones_stream ON detection_zones (stream_name);
CREATE INDEX idx_recordings_retention_tier ON recordings (retention_tier);
CREATE INDEX idx_recordings_disk_pressure_eligible ON recordings (disk_pressure_eligible);
CREATE TABLE storage_daily_stats (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    date            TEXT NOT NULL,
    stream_name     TEXT NOT NULL,
    tier            INTEGER NOT NULL DEFAULT 2,
    recording_count INTEGER NOT NULL DEFAULT 0,
    total_bytes     INTEGER NOT NULL DEFAULT 0,
    deleted_count   INTEGER NOT NULL DEFAULT 0,
    deleted_bytes   INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_storage_daily_stats_stream_date ON storage_daily_stats (stream_name, date);
CREATE INDEX idx_storage_daily_stats_date_tier ON storage_daily_stats (date, tier);
CREATE INDEX idx_detections_recording_id ON detections (recording_id);
CREATE INDEX idx_detections_stream_timestamp ON detections (stream_name, timestamp);
CREATE INDEX idx_events_timestamp ON events (timestamp);
CREATE INDEX idx_events_type ON events (type);
CREATE INDEX idx_events_stream_name ON events (stream_name);
CREATE INDEX idx_recordings_end_time ON recordings (end_time);
CREATE INDEX idx_recordings_complete_stream_start ON recordings (is_complete, stream_name, start_time);
CREATE INDEX idx_streams_name ON streams (name);
CREATE TABLE system_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE TABLE recording_tags (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    tag          TEXT NOT NULL,
    created_at   INTEGER DEFAULT (strftime('%s', 'now')),
    UNIQUE (recording_id, tag)
);
CREATE INDEX idx_recording_tags_tag ON recording_tags (tag);
CREATE INDEX idx_recording_tags_recording_id ON recording_tags (recording_id);
CREATE INDEX idx_sessions_user_activity ON sessions (user_id, last_activity_at DESC);
CREATE TABLE trusted_devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token        TEXT NOT NULL UNIQUE,
    ip_address   TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    last_used_at INTEGER,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX idx_trusted_devices_user_id ON trusted_devices (user_id);
CREATE INDEX idx_trusted_devices_token ON trusted_devices (token);
CREATE INDEX idx_trusted_devices_expires_at ON trusted_devices (expires_at);
CREATE INDEX idx_detections_stream_source_time
    ON detections (stream_name, source, timestamp, event_end_time);
CREATE INDEX idx_users_api_key_hash ON users (api_key_hash);
CREATE TABLE recording_index (
    recording_id INTEGER PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
    start_us     INTEGER NOT NULL,
    duration_us  INTEGER NOT NULL DEFAULT 0,
    init_size    INTEGER NOT NULL DEFAULT 0,
    part_count   INTEGER NOT NULL DEFAULT 0,
    parts        BLOB NOT NULL DEFAULT x''
);
CREATE TABLE recordings_garbage (
    recording_id INTEGER PRIMARY KEY,
    stream_name  TEXT NOT NULL,
    file_path    TEXT NOT NULL,
    created_at   INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE INDEX idx_recordings_stream_start ON recordings (stream_name, start_time);
CREATE INDEX idx_recordings_size ON recordings (size_bytes);
CREATE INDEX idx_recordings_stream_trigger_start ON recordings (stream_name, trigger_type, start_time);
CREATE INDEX idx_recordings_stream_size ON recordings (stream_name, size_bytes);
CREATE INDEX idx_recordings_protected_start ON recordings (start_time) WHERE protected = 1;
CREATE INDEX idx_recordings_file_path ON recordings (file_path);
CREATE INDEX idx_recordings_evictable ON recordings (retention_tier DESC, start_time)
    WHERE is_complete = 1 AND protected = 0 AND disk_pressure_eligible = 1;
CREATE INDEX idx_storage_daily_stats_key ON storage_daily_stats (date, stream_name, tier);
CREATE TABLE login_failures (
    user_key TEXT    NOT NULL,
    address  TEXT    NOT NULL,
    failures INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL,
    next_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_key, address)
) WITHOUT ROWID;
CREATE TABLE login_known_addresses (
    user_key        TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (user_key, address)
) WITHOUT ROWID;
CREATE TRIGGER users_username_nocase_insert
BEFORE INSERT ON users
WHEN EXISTS (SELECT 1 FROM users WHERE username = NEW.username COLLATE NOCASE)
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.username (case-insensitive)');
END;
CREATE TRIGGER users_username_nocase_update
BEFORE UPDATE OF username ON users
WHEN NEW.username IS NOT OLD.username
 AND EXISTS (SELECT 1 FROM users WHERE username = NEW.username COLLATE NOCASE AND id != NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.username (case-insensitive)');
END;
INSERT INTO "system_settings" ("key", "value") VALUES ('setup_complete', '0');
