//go:build !linux

package main

import "os"

// Off Linux (development machines only) passwords are read from a pipe.
func isTerminal(*os.File) bool { return false }

func echoOff(*os.File) func() { return func() {} }
