-- migrate:up
ALTER TABLE users ADD COLUMN password_change_locked INTEGER DEFAULT 0;

-- migrate:down
SELECT 1;
