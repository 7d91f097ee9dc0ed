package api

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// system_settings keys of the first-run wizard (LightNVR's).
const (
	settingSetupComplete    = "setup_complete"
	settingSetupCompletedAt = "setup_completed_at"
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
	var st setupStatus
	v, _, err := db.SystemSetting(ctx, q, settingSetupComplete)
	if err != nil {
		return st, err
	}
	st.Complete = v == "1" || v == "true"
	at, ok, err := db.SystemSetting(ctx, q, settingSetupCompletedAt)
	if err != nil {
		return st, err
	}
	if ok && st.Complete {
		st.SetupCompletedAt, _ = strconv.ParseInt(at, 10, 64)
	}
	return st, nil
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
	if err := h.setSetupComplete(requestContext(ctx), complete, time.Now()); err != nil {
		h.fail(ctx, "write setup status", err)
		return
	}
	h.log.Info("setup status changed", "complete", complete, "by", PrincipalOf(ctx).Username)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "complete": complete})
}

func (h *setupHandler) setSetupComplete(ctx context.Context, complete bool, now time.Time) error {
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if complete {
		// Marking a finished wizard finished again keeps the first time.
		st, rerr := readSetupStatus(ctx, tx)
		if rerr != nil {
			return rerr
		}
		at := now.Unix()
		if st.Complete && st.SetupCompletedAt > 0 {
			at = st.SetupCompletedAt
		}
		err = setSetup(ctx, tx, "1", strconv.FormatInt(at, 10))
	} else {
		err = setSetup(ctx, tx, "0", "")
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func setSetup(ctx context.Context, tx *sql.Tx, complete, at string) error {
	if err := db.SetSystemSetting(ctx, tx, settingSetupComplete, complete); err != nil {
		return err
	}
	if at == "" {
		return db.DeleteSystemSetting(ctx, tx, settingSetupCompletedAt)
	}
	return db.SetSystemSetting(ctx, tx, settingSetupCompletedAt, at)
}
