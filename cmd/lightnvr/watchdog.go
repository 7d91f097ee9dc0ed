package main

import (
	"time"

	"lightnvr/pkg/api"
	"lightnvr/pkg/lifecycle"
	"lightnvr/pkg/watchdog"
)

// watchdogGrace is how long after the API is up the watchdog is fed
// whatever the daemon's state: go2rtc comes up in that time on a slow board.
const watchdogGrace = 2 * time.Minute

// startWatchdog feeds [watchdog] device while nothing a reset can mend is
// broken (api.Server.Broken: the database and go2rtc, not the cameras or the
// disk). It is disarmed first on shutdown, before the parts its verdict reads
// go away; a shutdown that hangs after that is the supervisor's to kill.
func (d *daemon) startWatchdog(srv *api.Server) {
	wd := d.cfg.Watchdog
	if wd.Device == "" {
		return
	}
	dog, err := watchdog.Start(wd.Device, time.Duration(wd.Timeout)*time.Second, watchdogGrace, srv.Broken, d.log)
	if err != nil {
		d.log.Error("running without the hardware watchdog", "err", err)
		return
	}
	d.log.Info("feeding the hardware watchdog while healthy", "device", wd.Device, "timeout_s", wd.Timeout)
	d.shutdown.Register("watchdog", lifecycle.PriorityDetection+10, 2*time.Second, dog.Stop)
}
