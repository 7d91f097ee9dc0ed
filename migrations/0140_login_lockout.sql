-- migrate:up
-- Failed logins live here rather than in the daemon's memory so that the
-- console (`lightnvr user unlock`, a separate process) can clear them.
--
-- One row per (user, client address) counts that address's failures for the
-- user; the row with address '*' counts the user's failures from everywhere
-- and carries the global backoff: next_at is the earliest Unix second at
-- which an address the user has not logged in from may try again.
-- user_key is the lower-cased user name, so ADMIN and admin share a count.
CREATE TABLE IF NOT EXISTS login_failures (
    user_key TEXT    NOT NULL,
    address  TEXT    NOT NULL,
    failures INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL,
    next_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_key, address)
) WITHOUT ROWID;

-- Addresses each user logged in from: the global backoff does not apply to
-- them, so guesses from elsewhere never keep the owner out.
CREATE TABLE IF NOT EXISTS login_known_addresses (
    user_key        TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (user_key, address)
) WITHOUT ROWID;

-- User names are unique regardless of case (ADMIN vs admin). A unique
-- index would fail on LightNVR databases that already hold such pairs, so
-- triggers refuse new ones and leave existing rows alone. The message
-- matches SQLite's own, which the application maps to "name taken".
CREATE TRIGGER IF NOT EXISTS users_username_nocase_insert
BEFORE INSERT ON users
WHEN EXISTS (SELECT 1 FROM users WHERE username = NEW.username COLLATE NOCASE)
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.username (case-insensitive)');
END;

CREATE TRIGGER IF NOT EXISTS users_username_nocase_update
BEFORE UPDATE OF username ON users
WHEN NEW.username IS NOT OLD.username
 AND EXISTS (SELECT 1 FROM users WHERE username = NEW.username COLLATE NOCASE AND id != NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.username (case-insensitive)');
END;

-- migrate:down
DROP TRIGGER IF EXISTS users_username_nocase_update;
DROP TRIGGER IF EXISTS users_username_nocase_insert;
DROP TABLE IF EXISTS login_known_addresses;
DROP TABLE IF EXISTS login_failures;
