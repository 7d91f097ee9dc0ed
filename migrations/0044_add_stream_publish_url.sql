-- migrate:up
-- RTMP(S) restream target.
ALTER TABLE streams ADD COLUMN publish_url TEXT DEFAULT '';

-- migrate:down
SELECT 1;
