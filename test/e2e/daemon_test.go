package e2e

import (
	"testing"

	"lightnvr/pkg/testkit"
)

const adminPassword = "e2e-admin-password"

// startLightNVR runs the real daemon (testkit.Daemon) and returns its base URL.
func startLightNVR(t *testing.T) string {
	t.Helper()
	d := testkit.NewDaemon(t, adminPassword)
	d.Start()
	return d.Base
}
