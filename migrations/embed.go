// Package migrations holds the SQL schema migrations, embedded into the
// binary so a device never depends on files beside the executable.
//
// Files are named NNNN_description.sql and hold a "-- migrate:up" section
// and a "-- migrate:down" section. 0001–0046 reproduce the schema of
// LightNVR 0.37 so its databases open and migrate forward; versions from
// 0100 on are this project's own.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
