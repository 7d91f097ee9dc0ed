-- migrate:up
-- Newline-separated CIDRs; NULL means any address may log in.
ALTER TABLE users ADD COLUMN allowed_login_cidrs TEXT;

-- migrate:down
SELECT 1;
