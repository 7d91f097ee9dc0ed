-- migrate:up
ALTER TABLE sessions ADD COLUMN last_activity_at INTEGER;
ALTER TABLE sessions ADD COLUMN idle_expires_at INTEGER;

-- Existing sessions count as active since their creation and idle out when
-- they would have expired anyway.
UPDATE sessions SET last_activity_at = created_at WHERE last_activity_at IS NULL;
UPDATE sessions SET idle_expires_at = expires_at WHERE idle_expires_at IS NULL;

CREATE INDEX IF NOT EXISTS idx_sessions_user_activity ON sessions (user_id, last_activity_at DESC);

-- token is the SHA-256 (hex) of the cookie value, never the value itself.
CREATE TABLE IF NOT EXISTS trusted_devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token        TEXT NOT NULL UNIQUE,
    ip_address   TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
    last_used_at INTEGER,
    expires_at   INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_trusted_devices_user_id ON trusted_devices (user_id);
CREATE INDEX IF NOT EXISTS idx_trusted_devices_token ON trusted_devices (token);
CREATE INDEX IF NOT EXISTS idx_trusted_devices_expires_at ON trusted_devices (expires_at);

-- migrate:down
DROP TABLE IF EXISTS trusted_devices;
DROP INDEX IF EXISTS idx_sessions_user_activity;
