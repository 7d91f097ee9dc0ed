//go:build race

package api

const recRaceEnabled = true
