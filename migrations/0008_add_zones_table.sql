-- migrate:up
-- Zone ids are chosen by the client. polygon is a JSON array of normalised
-- points; filter_classes a comma-separated class list.
CREATE TABLE IF NOT EXISTS detection_zones (
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

CREATE INDEX IF NOT EXISTS idx_zones_stream ON detection_zones (stream_name);

-- migrate:down
DROP TABLE IF EXISTS detection_zones;
