-- migrate:up
-- Link to the camera's own web interface.
ALTER TABLE streams ADD COLUMN admin_url TEXT DEFAULT '';

-- migrate:down
SELECT 1;
