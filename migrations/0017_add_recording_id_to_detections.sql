-- migrate:up
-- 0005 already has this column; the runner skips an ADD COLUMN that exists.
-- It stays here because databases made by older releases may lack it.
ALTER TABLE detections ADD COLUMN recording_id INTEGER REFERENCES recordings (id) ON DELETE SET NULL;

-- migrate:down
SELECT 1;
