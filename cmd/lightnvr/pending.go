package main

import (
	"context"
	"errors"
	"io"
)

func runUserCmd(ctx context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	return errors.New("user management is not wired yet")
}
