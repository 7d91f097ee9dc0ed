package testkit

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TOTPCode is the authenticator code for secret at the given time.
func TOTPCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatalf("TOTP code: %v", err)
	}
	return code
}
