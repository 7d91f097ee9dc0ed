-- migrate:up
-- Finding whether a file on disk has a row (orphan files, the files API)
-- must not scan the whole table.
CREATE INDEX IF NOT EXISTS idx_recordings_file_path ON recordings (file_path);

-- Eviction under disk pressure takes the first rows of this index:
-- most expendable tier first, then oldest. Only rows that may be evicted
-- are in it, so a disk full of protected or open recordings costs nothing
-- to search.
CREATE INDEX IF NOT EXISTS idx_recordings_evictable ON recordings (retention_tier DESC, start_time)
    WHERE is_complete = 1 AND protected = 0 AND disk_pressure_eligible = 1;

-- One row per day, stream and tier: storage_daily_stats gets updated in
-- place through this key.
CREATE INDEX IF NOT EXISTS idx_storage_daily_stats_key ON storage_daily_stats (date, stream_name, tier);

-- migrate:down
DROP INDEX IF EXISTS idx_storage_daily_stats_key;
DROP INDEX IF EXISTS idx_recordings_evictable;
DROP INDEX IF EXISTS idx_recordings_file_path;
