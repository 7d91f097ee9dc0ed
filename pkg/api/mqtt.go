package api

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/notify"
)

// mqttCheckTimeout bounds the whole check: connect, publish, disconnect.
const mqttCheckTimeout = 15 * time.Second

// mqttHandler checks MQTT settings against the broker (docs/notify.md). It
// is admin's: it makes the box connect where the caller says, with the
// saved password.
type mqttHandler struct {
	live *liveConfig
}

var mqttRoutes = []endpoint[*mqttHandler]{
	{"POST", "/api/notify/mqtt/test", auth.AccessAdmin, (*mqttHandler).handleTest},
}

// mqttTestReply is the answer of POST /api/notify/mqtt/test.
type mqttTestReply struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// handleTest tries the saved [mqtt] settings with the posted mqtt_* ones on
// top, so the page checks what is on screen before it is saved.
func (h *mqttHandler) handleTest(ctx *fasthttp.RequestCtx) {
	var body map[string]json.RawMessage
	if len(ctx.PostBody()) > 0 && !readJSON(ctx, &body) {
		return
	}
	next := *h.live.get()
	fields := map[string]string{}
	for name := range body {
		if !strings.HasPrefix(name, "mqtt_") {
			fields[name] = "is not an mqtt_ setting"
		}
	}
	if len(fields) == 0 {
		setSettings(ctx, &next, body, fields)
	}
	if len(fields) > 0 {
		writeSettingsError(ctx, fields)
		return
	}
	if next.MQTT.BrokerHost == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "no broker host is set")
		return
	}
	cctx, cancel := context.WithTimeout(requestContext(ctx), mqttCheckTimeout)
	defer cancel()
	msg, err := notify.CheckMQTT(cctx, next.MQTT)
	if err != nil {
		msg = err.Error()
	}
	writeJSON(ctx, fasthttp.StatusOK, mqttTestReply{Success: err == nil, Message: msg})
}
