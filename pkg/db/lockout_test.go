package db

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// A LightNVR database may hold user names that differ only in case. The
// migration that makes names case-insensitive must not fail on it, and
// must refuse new such pairs from then on.
func TestCaseInsensitiveUsernamesOverLegacyDuplicates(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "lightnvr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Back to the state before 0140, then the duplicates LightNVR allowed.
	for _, q := range []string{
		`DROP TRIGGER users_username_nocase_insert`, `DROP TRIGGER users_username_nocase_update`,
		`DROP TABLE login_failures`, `DROP TABLE login_known_addresses`,
		`DELETE FROM schema_migrations WHERE version = '0140'`,
	} {
		if _, err := d.pool.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"admin", "ADMIN"} {
		if _, err := d.InsertUser(ctx, &User{Username: name, PasswordHash: "x", Role: 0, IsActive: true}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrating a database with case-only duplicates: %v", err)
	}
	if _, err := d.InsertUser(ctx, &User{Username: "Admin", PasswordHash: "x", Role: 2, IsActive: true}, 2); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("insert Admin beside admin: %v, want ErrUsernameTaken", err)
	}
	low, err := d.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	up, err := d.UserByUsername(ctx, "ADMIN")
	if err != nil || up.ID == low.ID {
		t.Fatalf("the existing pair is no longer told apart: %v", err)
	}
	// The existing duplicates keep working: editing one is no clash.
	up.Email = "root@example.com"
	if err := d.UpdateUserProfile(ctx, up, 3); err != nil {
		t.Fatalf("update an existing duplicate: %v", err)
	}
	low.Username = "aDmIn"
	if err := d.UpdateUserProfile(ctx, low, 3); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("rename onto the other's name: %v", err)
	}
}
