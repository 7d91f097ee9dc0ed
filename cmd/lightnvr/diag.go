package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/diag"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/ota"
)

// runDiag prints the diagnostics report. It must work on a box whose daemon is
// down or whose configuration is broken, so a config that fails to load or
// validate is reported and the defaults fill in.
func runDiag(ctx context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("diag", "diag [--json|--brief]", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	brief := fs.Bool("brief", false, "print one line per section")
	timeout := fs.Duration("timeout", diag.DefaultTimeout, "time limit for each section")
	dbTimeout := fs.Duration("db-timeout", diag.DefaultDBTimeout, "time limit for each section that reads the database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(g.configPath)
	if err != nil {
		fmt.Fprintf(stderr, "lightnvr diag: %v (using defaults)\n", err)
		cfg = config.Default()
	} else if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "lightnvr diag: %s does not validate: %v\n", configSource(cfg), err)
	}
	opt := diagOptions(cfg, *timeout, *asJSON, *brief)
	opt.DBTimeout = *dbTimeout
	return diag.Run(ctx, opt, stdout)
}

func diagOptions(cfg *config.Config, timeout time.Duration, asJSON, brief bool) diag.Options {
	host := cfg.Web.BindIP
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	opt := diag.Options{
		ConfigPath:  cfg.Path(),
		DBPath:      cfg.Database.Path,
		StoragePath: cfg.Storage.Path,
		PIDFile:     cfg.General.PIDFile,
		LogFile:     cfg.General.LogFile,
		HTTPBase:    "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Web.Port)),
		Timeout:     timeout,
		JSON:        asJSON,
		Brief:       brief,
	}
	if sys, err := ota.FromConfig(cfg.OTA); err == nil {
		opt.OTA = sys
	}
	if cfg.Go2RTC.Enabled {
		opt.Go2RTCAPI = go2rtc.SettingsFromConfig(cfg).APIURL()
		// The running go2rtc's password, from the file lightnvr or the init script
		// wrote; without read access to it the go2rtc section reports the 401.
		if c, err := go2rtc.LoadCredentials(cfg.Go2RTC.ConfigDir); err == nil {
			opt.Go2RTCUser, opt.Go2RTCPassword = c.Username, c.Password
		}
	}
	return opt
}
