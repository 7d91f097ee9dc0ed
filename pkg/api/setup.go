package api

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// setupHandler serves the first-run wizard's status.
type setupHandler struct {
	failer
	db *db.DB
}

var setupRoutes = []endpoint[*setupHandler]{
	{"GET", "/api/setup/status", auth.AccessPublic, (*setupHandler).handleGetSetup},
	{"POST", "/api/setup/status", auth.AccessAdmin, (*setupHandler).handlePostSetup},
}

type setupStatus struct {
	Complete         bool  `json:"complete"`
	SetupCompletedAt int64 `json:"setup_completed_at"`
}

func readSetupStatus(ctx context.Context, q db.Querier) (setupStatus, error) {
	st, err := db.ReadSetupStatus(ctx, q)
	return setupStatus{Complete: st.Complete, SetupCompletedAt: st.CompletedAt}, err
}

func (h *setupHandler) handleGetSetup(ctx *fasthttp.RequestCtx) {
	st, err := readSetupStatus(requestContext(ctx), h.db)
	if err != nil {
		h.fail(ctx, "read setup status", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, st)
}

type setupRequest struct {
	Complete *bool `json:"complete"`
}

func (h *setupHandler) handlePostSetup(ctx *fasthttp.RequestCtx) {
	// An empty body marks the wizard done, as in LightNVR.
	complete := true
	if len(ctx.PostBody()) > 0 {
		var req setupRequest
		if !readJSON(ctx, &req) {
			return
		}
		if req.Complete != nil {
			complete = *req.Complete
		}
	}
	if err := db.SetSetupComplete(requestContext(ctx), h.db, complete, time.Now().Unix()); err != nil {
		h.fail(ctx, "write setup status", err)
		return
	}
	h.log.Info("setup status changed", "complete", complete, "by", PrincipalOf(ctx).Username)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "complete": complete})
}
