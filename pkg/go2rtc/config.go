package go2rtc

import (
	"strings"

	"lightnvr/pkg/config"
)

// SettingsFromConfig maps the [go2rtc] section to Settings.
func SettingsFromConfig(cfg *config.Config) Settings {
	g := cfg.Go2RTC
	var ice []string
	for _, s := range strings.Split(g.ICEServers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			ice = append(ice, s)
		}
	}
	return Settings{
		Mode:       g.Mode,
		BinaryPath: g.BinaryPath,
		ConfigDir:  g.ConfigDir,
		APIPort:    g.APIPort,
		RTSPPort:   g.RTSPPort,
		WebRTC: WebRTC{
			Enabled:       g.WebRTCEnabled,
			ListenPort:    g.WebRTCListenPort,
			ExternalIP:    g.ExternalIP,
			STUNEnabled:   g.STUNEnabled,
			STUNServer:    g.STUNServer,
			ICEServers:    ice,
			TURNEnabled:   g.TURNEnabled,
			TURNServerURL: g.TURNServerURL,
			TURNUsername:  g.TURNUsername,
			TURNPassword:  g.TURNPassword,
		},
	}
}
