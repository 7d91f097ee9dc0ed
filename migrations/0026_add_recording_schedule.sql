-- migrate:up
-- recording_schedule: 168 comma-separated 0/1 slots (weekday*24 + hour, local
-- time); NULL or short means record always.
ALTER TABLE streams ADD COLUMN record_on_schedule INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN recording_schedule TEXT;

-- migrate:down
SELECT 1;
