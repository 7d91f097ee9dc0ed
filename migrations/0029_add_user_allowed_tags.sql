-- migrate:up
-- NULL means the user may see every stream.
ALTER TABLE users ADD COLUMN allowed_tags TEXT;

-- migrate:down
SELECT 1;
