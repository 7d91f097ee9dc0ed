package api

import (
	"path/filepath"
	"regexp"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

// Absolute paths and the loopback ports of go2rtc describe the box's
// insides: they help an attacker and no viewer needs them. Admins, who
// configure them, still see them.

// seesInternals reports whether the caller may see absolute paths and internal ports.
func seesInternals(ctx *fasthttp.RequestCtx) bool {
	p := PrincipalOf(ctx)
	return p != nil && p.Role == auth.RoleAdmin
}

// absPath matches an absolute path inside a message.
var absPath = regexp.MustCompile(`/[^\s:;,'"()]+`)

// redactPaths replaces absolute paths in a message.
func redactPaths(msg string) string {
	return absPath.ReplaceAllString(msg, "<path>")
}

// publicFileName is what a recording's file_path shows a non-admin: the
// file name without its directory.
func publicFileName(path string) string {
	if path == "" {
		return ""
	}
	return filepath.Base(path)
}
