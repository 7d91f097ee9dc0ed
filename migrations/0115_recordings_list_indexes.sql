-- migrate:up
-- The recordings list (GET /api/recordings) filters by stream and start
-- time and pages in start-time order; with this index a page of one stream
-- reads only its own rows, newest first, instead of scanning every stream.
CREATE INDEX IF NOT EXISTS idx_recordings_stream_start ON recordings (stream_name, start_time);

-- Sorting the list by size must not sort the whole table for each page.
CREATE INDEX IF NOT EXISTS idx_recordings_size ON recordings (size_bytes);

-- migrate:down
DROP INDEX IF EXISTS idx_recordings_size;
DROP INDEX IF EXISTS idx_recordings_stream_start;
