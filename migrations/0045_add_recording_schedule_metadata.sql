-- migrate:up
-- schedule_restricted is tri-state: NULL unknown (older rows), 0 recorded
-- without a schedule, 1 recorded under one.
ALTER TABLE recordings ADD COLUMN schedule_restricted INTEGER;
ALTER TABLE streams ADD COLUMN detection_record_on_schedule INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN detection_recording_schedule TEXT;

-- migrate:down
SELECT 1;
