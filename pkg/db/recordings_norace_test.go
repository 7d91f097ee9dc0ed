//go:build !race

package db

const recRaceEnabled = false
