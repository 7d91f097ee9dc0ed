-- migrate:up
CREATE TABLE IF NOT EXISTS recording_tags (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    tag          TEXT NOT NULL,
    created_at   INTEGER DEFAULT (strftime('%s', 'now')),
    UNIQUE (recording_id, tag)
);

CREATE INDEX IF NOT EXISTS idx_recording_tags_tag ON recording_tags (tag);
CREATE INDEX IF NOT EXISTS idx_recording_tags_recording_id ON recording_tags (recording_id);

-- migrate:down
DROP TABLE IF EXISTS recording_tags;
