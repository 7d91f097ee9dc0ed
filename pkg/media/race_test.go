//go:build race

package media

// The race detector's sync.Pool drops some of what it is given.
const raceEnabled = true
