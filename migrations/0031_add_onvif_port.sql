-- migrate:up
-- 0 means take the port from the stream URL.
ALTER TABLE streams ADD COLUMN onvif_port INTEGER DEFAULT 0;

-- migrate:down
SELECT 1;
