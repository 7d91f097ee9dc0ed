-- migrate:up
-- Boxes are normalised to 0..1 with a top-left origin. A detection outlives
-- the recording it points at: deleting the recording clears the link.
CREATE TABLE IF NOT EXISTS detections (
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
);

CREATE INDEX IF NOT EXISTS idx_detections_stream_name ON detections (stream_name);
CREATE INDEX IF NOT EXISTS idx_detections_timestamp ON detections (timestamp);
CREATE INDEX IF NOT EXISTS idx_detections_label ON detections (label);

-- migrate:down
DROP TABLE IF EXISTS detections;
