-- migrate:up
ALTER TABLE streams ADD COLUMN privacy_mode INTEGER DEFAULT 0;

-- migrate:down
SELECT 1;
