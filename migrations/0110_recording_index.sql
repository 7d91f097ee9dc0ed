-- migrate:up
-- Where every part (moof+mdat, about one second) of a recorded fMP4 segment
-- lies in its file, so seeking, the timeline and export read the database
-- instead of scanning files. One row per segment, kept beside LightNVR's
-- recordings row and removed with it.
--
-- parts is a packed list, one entry per part, in file order: an unsigned
-- varint of the part's size in bytes, then an unsigned varint of
-- (duration in microseconds << 1 | 1 if the part starts with a keyframe).
-- Part i starts at init_size + the sizes of the parts before it, and at
-- start_us + the durations before it.
CREATE TABLE IF NOT EXISTS recording_index (
    recording_id INTEGER PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
    start_us     INTEGER NOT NULL,
    duration_us  INTEGER NOT NULL DEFAULT 0,
    init_size    INTEGER NOT NULL DEFAULT 0,
    part_count   INTEGER NOT NULL DEFAULT 0,
    parts        BLOB NOT NULL DEFAULT x''
);

-- Recordings being deleted. A recording's row moves here in the same
-- transaction that removes it from recordings; the file is unlinked and its
-- directory synced; only then is this row removed. After a crash at any
-- point, start-up finishes the pending rows: no orphan file, no row
-- pointing at a missing file.
CREATE TABLE IF NOT EXISTS recordings_garbage (
    recording_id INTEGER PRIMARY KEY,
    stream_name  TEXT NOT NULL,
    file_path    TEXT NOT NULL,
    created_at   INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);

-- migrate:down
DROP TABLE IF EXISTS recordings_garbage;
DROP TABLE IF EXISTS recording_index;
