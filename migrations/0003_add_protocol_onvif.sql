-- migrate:up
-- protocol: 0 = TCP, 1 = UDP.
ALTER TABLE streams ADD COLUMN protocol INTEGER DEFAULT 0;
ALTER TABLE streams ADD COLUMN is_onvif INTEGER DEFAULT 0;

-- migrate:down
SELECT 1;
