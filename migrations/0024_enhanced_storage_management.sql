-- migrate:up
-- Tiers: 0 critical, 1 important, 2 standard, 3 ephemeral.
ALTER TABLE recordings ADD COLUMN retention_tier INTEGER DEFAULT 2;
ALTER TABLE recordings ADD COLUMN disk_pressure_eligible INTEGER DEFAULT 1;

ALTER TABLE streams ADD COLUMN tier_critical_multiplier REAL DEFAULT 3.0;
ALTER TABLE streams ADD COLUMN tier_important_multiplier REAL DEFAULT 2.0;
ALTER TABLE streams ADD COLUMN tier_ephemeral_multiplier REAL DEFAULT 0.25;
ALTER TABLE streams ADD COLUMN storage_priority INTEGER DEFAULT 5;

CREATE INDEX IF NOT EXISTS idx_recordings_retention_tier ON recordings (retention_tier);
CREATE INDEX IF NOT EXISTS idx_recordings_disk_pressure_eligible ON recordings (disk_pressure_eligible);

CREATE TABLE IF NOT EXISTS storage_daily_stats (
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

CREATE INDEX IF NOT EXISTS idx_storage_daily_stats_stream_date ON storage_daily_stats (stream_name, date);
CREATE INDEX IF NOT EXISTS idx_storage_daily_stats_date_tier ON storage_daily_stats (date, tier);

-- migrate:down
DROP TABLE IF EXISTS storage_daily_stats;
DROP INDEX IF EXISTS idx_recordings_disk_pressure_eligible;
DROP INDEX IF EXISTS idx_recordings_retention_tier;
