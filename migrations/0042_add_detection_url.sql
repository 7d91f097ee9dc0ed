-- migrate:up
-- A separate (usually low-resolution) source for detection.
ALTER TABLE streams ADD COLUMN detection_url TEXT DEFAULT '';

-- migrate:down
SELECT 1;
