-- migrate:up
-- A stream without a name cannot be addressed by the API; drop such rows.
DELETE FROM streams WHERE name IS NULL OR trim(name) = '';

-- migrate:down
SELECT 1;
