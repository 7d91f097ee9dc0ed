-- migrate:up
-- LightNVR keeps API keys and session tokens in clear. We keep only their
-- SHA-256 (hex): a copy of the database then grants no access.
--
-- api_key_hash replaces api_key. Existing plaintext keys are hashed by the
-- application at start (SQLite has no SHA-256 built in), which then blanks
-- api_key, so keys issued by LightNVR keep working.
ALTER TABLE users ADD COLUMN api_key_hash TEXT;
CREATE INDEX IF NOT EXISTS idx_users_api_key_hash ON users (api_key_hash);

-- The last TOTP time step accepted for the user: a code works once.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- sessions.token now holds SHA-256 (hex) of the cookie value. Rows written
-- by LightNVR hold the token itself and cannot be converted here, so those
-- sessions end and their users log in again once.
DELETE FROM sessions;

-- migrate:down
DELETE FROM sessions;
DROP INDEX IF EXISTS idx_users_api_key_hash;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN api_key_hash;
