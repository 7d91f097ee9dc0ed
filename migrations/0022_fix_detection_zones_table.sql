-- migrate:up
-- Some old databases carry a differently shaped "zones" table from an early
-- 0008; zones live in detection_zones now.
DROP TABLE IF EXISTS zones;

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

CREATE INDEX IF NOT EXISTS idx_detection_zones_stream ON detection_zones (stream_name);
-- Same column as idx_detection_zones_stream: one index is enough.
DROP INDEX IF EXISTS idx_zones_stream;

-- migrate:down
SELECT 1;
