-- migrate:up
-- totp_secret is base32.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER DEFAULT 0;

-- migrate:down
SELECT 1;
