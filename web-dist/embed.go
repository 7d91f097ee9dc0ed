//go:build !uigz

// Package webdist embeds the web UI, which is served as is: ES modules, no build step.
package webdist

import (
	"embed"
	"io/fs"
)

// files holds the UI files; embed.go itself is excluded by the patterns.
//
//go:embed *.html css js img vendor
var files embed.FS

// FS is the UI. The appliance's build (tag uigz, embed_gz.go) holds the
// same files gzipped instead.
var FS fs.FS = files
