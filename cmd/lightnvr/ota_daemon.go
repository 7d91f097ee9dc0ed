package main

import (
	"context"
	"errors"
	"time"

	"lightnvr/pkg/api"
	"lightnvr/pkg/ota"
)

// startOTA sets up updates when [ota] is configured; nil d.ota without it.
func (d *daemon) startOTA() {
	sys, err := ota.FromConfig(d.cfg.OTA)
	if errors.Is(err, ota.ErrOff) {
		return
	}
	if err != nil {
		d.log.Warn("ota: [ota] is unusable; an update on trial will not be confirmed", "err", err)
		return
	}
	d.ota = sys
}

// confirmOTA starts the mark-good watch once the API is up: an updated slot
// on trial is confirmed after healthy_minutes in which /api/health's verdict
// (srv.Unhealthy: database, disk, go2rtc, every stream delivering video)
// held at every check, so an update that stops recording is never confirmed.
func (d *daemon) confirmOTA(ctx context.Context, srv *api.Server) {
	if d.ota == nil {
		return
	}
	window := time.Duration(d.cfg.OTA.HealthyMinutes) * time.Minute
	if s := d.cfg.OTA.HealthySeconds; s > 0 {
		window = time.Duration(s) * time.Second
	}
	// A short window is checked more often than every 30 s, or it would
	// be confirmed only after its first check anyway.
	every := min(30*time.Second, max(window/5, time.Second))
	healthy := func(ctx context.Context) bool { return srv.Unhealthy(ctx) == "" }
	go d.ota.ConfirmWhenHealthy(ctx, window, every, healthy, d.log)
}
