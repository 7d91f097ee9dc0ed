// Package version holds the build identity stamped in by the Makefile, so that
// the API, diag and OTA all report the same thing.
package version

import "runtime"

// Set at link time with -ldflags "-X lightnvr/pkg/version.Version=...".
var (
	Version = "0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// String is the one-line form printed by `lightnvr version`.
func String() string {
	return "lightnvr " + Version + " (" + Commit + ", built " + Date + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
