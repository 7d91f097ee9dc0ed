//go:build !race

package api

const recRaceEnabled = false
