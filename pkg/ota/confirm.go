package ota

import (
	"context"
	"log/slog"
	"time"
)

// ConfirmWhenHealthy marks the running slot good once healthy has reported
// true at every check for window without a break; any false restarts the
// window. It returns when it has marked the slot, when no update is on trial
// (nothing to confirm), or when ctx ends. If it never marks, U-Boot's boot
// counter decides after the next reboots.
func (s *System) ConfirmWhenHealthy(ctx context.Context, window, every time.Duration, healthy func(context.Context) bool, log *slog.Logger) {
	env, err := s.Env.Read()
	if err != nil {
		log.Warn("ota: cannot read the U-Boot environment; the running slot stays unconfirmed", "err", err)
		return
	}
	slot, ok := s.onTrial(env)
	if !ok {
		return
	}
	log.Info("ota: running an update on trial; confirming once healthy", "slot", slot, "version", env.Get(varVersion+slot), "window", window)
	t := time.NewTicker(every)
	defer t.Stop()
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if !healthy(ctx) {
				since = time.Time{}
				continue
			}
			if since.IsZero() {
				since = now
			}
			if now.Sub(since) < window {
				continue
			}
			if _, err := s.MarkGood(); err != nil {
				log.Error("ota: mark the running slot good", "err", err)
				continue
			}
			log.Info("ota: running slot marked good", "slot", slot)
			return
		}
	}
}
