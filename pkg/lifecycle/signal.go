package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// ForcedExitCode is the exit status after a second SIGINT/SIGTERM.
const ForcedExitCode = 130

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM,
// which starts a graceful shutdown; context.Cause(ctx) names the signal. A
// second signal exits the process at once with ForcedExitCode, for an
// operator whose shutdown is stuck. The force-exit stays armed until stop is
// called, also after ctx is done, because that is when shutdown runs. stop
// releases the signals and cancels ctx; call it (defer) when shutdown ends.
func SignalContext(parent context.Context, logger *slog.Logger) (ctx context.Context, stop func()) {
	return signalContext(parent, logger, os.Exit)
}

// signalContext is SignalContext with the exit function injected by tests.
func signalContext(parent context.Context, logger *slog.Logger, exit func(code int)) (context.Context, func()) {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		received := 0
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				received++
				if received == 1 {
					logger.Info("signal received, shutting down; send it again to force exit", "signal", sig.String())
					cancel(fmt.Errorf("received signal %s", sig))
					continue
				}
				logger.Error("second signal received, forcing exit", "signal", sig.String(), "code", ForcedExitCode)
				exit(ForcedExitCode)
				return
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			<-exited
			cancel(context.Canceled)
		})
	}
}
