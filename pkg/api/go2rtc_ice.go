package api

import (
	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/go2rtc"
)

// iceHandler tells the browser the ICE servers go2rtc uses, so both ends of
// a WebRTC session look for candidates the same way.
type iceHandler struct {
	cfg func() *config.Config
}

// The TURN credential is in the answer (the browser needs it), so a login is.
var iceRoutes = []endpoint[*iceHandler]{
	{"GET", "/api/ice-servers", auth.AccessViewer, (*iceHandler).handleICEServers},
}

func (h *iceHandler) handleICEServers(ctx *fasthttp.RequestCtx) {
	list := go2rtc.SettingsFromConfig(h.cfg()).WebRTC.ICEServerList()
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"ice_servers": list})
}
