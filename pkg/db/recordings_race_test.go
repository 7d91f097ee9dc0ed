//go:build race

package db

const recRaceEnabled = true
