-- migrate:up
CREATE TABLE IF NOT EXISTS motion_recording_config (
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

CREATE TABLE IF NOT EXISTS motion_recordings (
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

CREATE INDEX IF NOT EXISTS idx_motion_recordings_stream_name ON motion_recordings (stream_name);
CREATE INDEX IF NOT EXISTS idx_motion_recordings_start_time ON motion_recordings (start_time);
CREATE INDEX IF NOT EXISTS idx_motion_recordings_is_complete ON motion_recordings (is_complete);

-- migrate:down
DROP TABLE IF EXISTS motion_recordings;
DROP TABLE IF EXISTS motion_recording_config;
