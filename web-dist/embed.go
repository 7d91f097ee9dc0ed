// Package webdist embeds the web UI, which is served as is: ES modules, no build step.
package webdist

import "embed"

// FS holds the UI files; embed.go itself is excluded by the patterns.
//
//go:embed *.html css js img vendor
var FS embed.FS
