package lifecycle

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

func TestSignalContext(t *testing.T) {
	exits := make(chan int, 1)
	ctx, stop := signalContext(context.Background(), quietLogger(), func(code int) { exits <- code })
	defer stop()

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitDone(t, ctx.Done(), "cancel on first SIGTERM")
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "terminated") {
		t.Fatalf("cause %v", cause)
	}
	select {
	case code := <-exits:
		t.Fatalf("exit(%d) after the first signal", code)
	default:
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exits:
		if code != ForcedExitCode {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("second signal did not force exit")
	}
}

func TestSignalContextStop(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	ctx, stop := signalContext(parent, quietLogger(), func(int) { t.Error("exit called") })
	if ctx.Err() != nil {
		t.Fatalf("ctx done before any signal")
	}
	stop()
	stop() // idempotent
	waitDone(t, ctx.Done(), "cancel on stop")
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
}
