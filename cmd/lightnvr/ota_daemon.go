package main

import (
	"context"
	"errors"
	"time"

	"lightnvr/pkg/ota"
)

// startOTA sets up updates when [ota] is configured and starts the
// mark-good watch: an updated slot on trial is confirmed after
// healthy_minutes of good health.
func (d *daemon) startOTA(ctx context.Context) {
	sys, err := ota.FromConfig(d.cfg.OTA)
	if errors.Is(err, ota.ErrOff) {
		return
	}
	if err != nil {
		d.log.Warn("ota: [ota] is unusable; an update on trial will not be confirmed", "err", err)
		return
	}
	d.ota = sys
	window := time.Duration(d.cfg.OTA.HealthyMinutes) * time.Minute
	go sys.ConfirmWhenHealthy(ctx, window, 30*time.Second, d.healthyForOTA, d.log)
}

// healthyForOTA is what must hold for the whole window: the database
// answers and, when lightnvr uses go2rtc, go2rtc is up.
func (d *daemon) healthyForOTA(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.db.Ping(pctx); err != nil {
		return false
	}
	return d.go2rtcStatus == nil || d.go2rtcStatus().Ready()
}
