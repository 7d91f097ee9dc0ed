package api

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// queryContext bounds the database work of one request. It does not derive
// from the *fasthttp.RequestCtx: that context is only usable inside a running
// fasthttp.Server, and these queries are short anyway.
func queryContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (s *Server) registerSetupRoutes() {
	s.route("GET", "/api/setup/status", auth.AccessPublic, s.handleGetSetup)
	s.route("POST", "/api/setup/status", auth.AccessAdmin, s.handlePostSetup)
}

type setupStatus struct {
	Complete         bool  `json:"complete"`
	SetupCompletedAt int64 `json:"setup_completed_at"`
}

func readSetupStatus(ctx context.Context, q db.Querier) (setupStatus, error) {
	st, err := db.ReadSetupStatus(ctx, q)
	return setupStatus{Complete: st.Complete, SetupCompletedAt: st.CompletedAt}, err
}

func (s *Server) handleGetSetup(ctx *fasthttp.RequestCtx) {
	if s.deps.DB == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "database is not available")
		return
	}
	qctx, cancel := queryContext()
	defer cancel()
	st, err := readSetupStatus(qctx, s.deps.DB)
	if err != nil {
		s.log.Error("read setup status", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "read setup status failed")
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, st)
}

type setupRequest struct {
	Complete *bool `json:"complete"`
}

func (s *Server) handlePostSetup(ctx *fasthttp.RequestCtx) {
	if s.deps.DB == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "database is not available")
		return
	}
	// An empty body marks the wizard done, as in LightNVR.
	complete := true
	if len(ctx.PostBody()) > 0 {
		var req setupRequest
		if err := decodeJSON(ctx, &req); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		if req.Complete != nil {
			complete = *req.Complete
		}
	}
	qctx, cancel := queryContext()
	defer cancel()
	if err := db.SetSetupComplete(qctx, s.deps.DB, complete, time.Now().Unix()); err != nil {
		s.log.Error("write setup status", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "write setup status failed")
		return
	}
	s.log.Info("setup status changed", "complete", complete, "by", PrincipalOf(ctx).Username)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "complete": complete})
}
