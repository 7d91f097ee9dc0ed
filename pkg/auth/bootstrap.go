package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
)

// InitialPasswordFile is where Bootstrap leaves a generated admin password.
const InitialPasswordFile = "initial-admin-password"

// generatedHashParams hash the generated first-boot password. It is 16
// random characters (95 bits): stretching adds nothing to that, and the
// full argon2id cost would be a second of the first boot on the board. The
// first login with it stores it with the Service's parameters (rehash).
var generatedHashParams = HashParams{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// Bootstrap prepares the users table at start:
//   - API keys LightNVR stored in clear are replaced by their hashes (the keys
//     keep working; the clear copies are gone);
//   - with no user at all, it creates the admin ([web] username, default
//     "admin") with [web] password, or — when that is empty — a random
//     password printed once to out and written to <dataDir>/initial-admin-password
//     (mode 0600). LightNVR's fallback password "admin" is never used.
func Bootstrap(ctx context.Context, d *db.DB, cfg *config.Config, dataDir string, out io.Writer) error {
	if err := ConvertPlaintextAPIKeys(ctx, d); err != nil {
		return err
	}
	n, err := d.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	name := cfg.Web.Username
	if name == "" {
		name = "admin"
	}
	if err := ValidateUsername(name); err != nil {
		return fmt.Errorf("[web] username %q: %w", name, err)
	}
	password, generated, params := cfg.Web.Password, false, DefaultHashParams
	if password == "" {
		password, generated, params = NewToken()[:16], true, generatedHashParams
	}
	h, err := HashPassword(password, params)
	if err != nil {
		return err
	}
	// argon2id's working memory (19 MiB) is garbage now, but the runtime
	// would keep those pages resident for minutes: the whole idle budget.
	debug.FreeOSMemory()
	u := &db.User{Username: name, PasswordHash: h, Role: int(RoleAdmin), IsActive: true}
	if _, err := d.InsertUser(ctx, u, nowUnix()); err != nil {
		return fmt.Errorf("create initial admin: %w", err)
	}
	if !generated {
		slog.Info("created the admin user with [web] password", "user", name)
		return nil
	}
	file := filepath.Join(dataDir, InitialPasswordFile)
	if err := writeSecretFile(file, name+":"+password+"\n"); err != nil {
		// The console copy below is still there; do not fail the start.
		slog.Error("write initial admin password", "file", file, "err", err)
	}
	fmt.Fprintf(out, "\nCreated user %q with password: %s\n(also written to %s; change it after the first login)\n\n", name, password, file)
	slog.Warn("created the admin user with a random password", "user", name, "file", file)
	return nil
}

func writeSecretFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// Remove first: O_EXCL then guarantees a fresh 0600 file we created, not
	// a pre-existing file or symlink someone planted.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// ConvertPlaintextAPIKeys hashes API keys that LightNVR stored in clear.
func ConvertPlaintextAPIKeys(ctx context.Context, d *db.DB) error {
	keys, err := d.PlaintextAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := d.SetUserAPIKeyHash(ctx, k.UserID, HashToken(k.Key), nowUnix()); err != nil {
			return fmt.Errorf("hash stored api key: %w", err)
		}
	}
	if len(keys) > 0 {
		slog.Info("replaced plaintext API keys by their hashes", "count", len(keys))
	}
	return nil
}
