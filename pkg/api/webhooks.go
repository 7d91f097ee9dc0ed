package api

import (
	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/notify"
)

// webhooksHandler shows the webhook deliveries and sends test events
// (docs/notify.md). Both are admin's: the status names the receivers' URLs,
// which may carry a token, and a test makes the box post to them.
type webhooksHandler struct {
	hooks *notify.Webhooks
	live  *liveConfig
}

var webhookRoutes = []endpoint[*webhooksHandler]{
	{"GET", "/api/notify/webhooks/status", auth.AccessAdmin, (*webhooksHandler).handleStatus},
	{"POST", "/api/notify/webhooks/test", auth.AccessAdmin, (*webhooksHandler).handleTest},
}

func (h *webhooksHandler) handleStatus(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, h.hooks.Status())
}

// testReply is the answer of POST /api/notify/webhooks/test.
type testReply struct {
	Success bool            `json:"success"`
	Results []notify.Result `json:"results"`
}

// handleTest sends the test event to the saved URLs, which may be newer than
// the running ones: the Test button checks what was just saved.
func (h *webhooksHandler) handleTest(ctx *fasthttp.RequestCtx) {
	rs := h.hooks.Test(requestContext(ctx), notify.WebhookOptionsFrom(h.live.get().Webhooks))
	if len(rs) == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "no webhook URL is set")
		return
	}
	reply := testReply{Success: true, Results: rs}
	for _, r := range rs {
		reply.Success = reply.Success && r.OK
	}
	writeJSON(ctx, fasthttp.StatusOK, reply)
}
