//go:build race

package storage

// The race detector slows SQLite (and everything else) several times.
const raceEnabled = true
