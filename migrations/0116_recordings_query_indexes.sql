-- migrate:up
-- A stream's recordings of one capture method (detection clips, motion,
-- manual), newest first: the page walks only those rows in order and the
-- count reads the index alone. Nothing may follow start_time: the rowid
-- right after it is what orders ties by id without a sort.
CREATE INDEX IF NOT EXISTS idx_recordings_stream_trigger_start ON recordings (stream_name, trigger_type, start_time);

-- One stream's recordings sorted by size: a page is read in index order
-- instead of sorting every row of the stream.
CREATE INDEX IF NOT EXISTS idx_recordings_stream_size ON recordings (stream_name, size_bytes);

-- Protected recordings are few; listing them newest first must not sort
-- all of them nor scan the whole table for them.
CREATE INDEX IF NOT EXISTS idx_recordings_protected_start ON recordings (start_time) WHERE protected = 1;

-- migrate:down
DROP INDEX IF EXISTS idx_recordings_protected_start;
DROP INDEX IF EXISTS idx_recordings_stream_size;
DROP INDEX IF EXISTS idx_recordings_stream_trigger_start;
