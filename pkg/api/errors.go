package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/hls"
	"lightnvr/pkg/streams"
)

// requestTimeout bounds the database and go2rtc work of one request. Streamed
// replies (recordings, live video) outlive it: they hold no request context.
const requestTimeout = 30 * time.Second

const userValueContext = "lightnvr.context"

// withRequestContext gives the request its context, the one place a deadline
// is set; the returned cancel ends it once the handler returned. It is not the
// RequestCtx itself: fasthttp recycles that when the handler returns, while
// database/sql may still read a context it was given from its own goroutines.
func withRequestContext(ctx *fasthttp.RequestCtx) context.CancelFunc {
	c, cancel := context.WithTimeout(context.Background(), requestTimeout)
	ctx.SetUserValue(userValueContext, c)
	return cancel
}

// requestContext is the context of the request's work (see withRequestContext).
func requestContext(ctx *fasthttp.RequestCtx) context.Context {
	if c, ok := ctx.UserValue(userValueContext).(context.Context); ok {
		return c
	}
	return context.Background() // a handler called outside Server.Handle, in a test
}

// statusError is an error whose reply the handler chose: status and message
// both go to the client as they are.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// found is the answer of a lookup: v, or, once the reply is written, false:
// 404 with notFound when err is missing, the error mapper's otherwise.
func found[T any](ctx *fasthttp.RequestCtx, f failer, what string, v T, err, missing error, notFound string) (T, bool) {
	if errors.Is(err, missing) {
		err = &statusError{status: fasthttp.StatusNotFound, msg: notFound}
	}
	if err != nil {
		f.fail(ctx, what, err)
		var zero T
		return zero, false
	}
	return v, true
}

// failer answers the errors of a resource's handlers.
type failer struct{ log *slog.Logger }

// fail replies to err, the one mapping of errors to replies: a status the
// handler chose, a domain error of auth, db or streams to its status, and
// anything else to 500 with a generic message naming what failed. The text of
// an unexpected error is logged, never sent: it may name files, addresses and
// queries.
func (f failer) fail(ctx *fasthttp.RequestCtx, what string, err error) {
	var se *statusError
	var in *auth.InputError
	var conflict *auth.ConflictError
	var rl *auth.RateLimitedError
	var inv *streams.InvalidError
	switch {
	case errors.As(err, &se):
		writeError(ctx, se.status, se.msg)
	case errors.As(err, &rl):
		writeRateLimited(ctx, rl)
	case errors.As(err, &in):
		writeError(ctx, fasthttp.StatusBadRequest, in.Msg)
	case errors.As(err, &conflict):
		writeError(ctx, fasthttp.StatusConflict, conflict.Msg)
	case errors.Is(err, auth.ErrNotFound):
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	case errors.Is(err, auth.ErrPasswordLocked):
		writeError(ctx, fasthttp.StatusForbidden, userMessage(err))
	case errors.Is(err, auth.ErrWrongPassword), badLogin(err):
		writeError(ctx, fasthttp.StatusUnauthorized, userMessage(err))
	case errors.Is(err, auth.ErrLastAdmin), errors.Is(err, auth.ErrTOTPNotConfigured):
		writeError(ctx, fasthttp.StatusBadRequest, userMessage(err))
	case errors.Is(err, db.ErrStreamExists):
		writeError(ctx, fasthttp.StatusConflict, "a stream with that name already exists")
	case errors.Is(err, streams.ErrNotFound), errors.Is(err, db.ErrStreamNotFound):
		writeError(ctx, fasthttp.StatusNotFound, "stream not found")
	case errors.As(err, &inv):
		writeError(ctx, fasthttp.StatusBadRequest, inv.Error())
	case errors.Is(err, streams.ErrGo2RTCUnavailable):
		writeError(ctx, fasthttp.StatusServiceUnavailable, streams.ErrGo2RTCUnavailable.Error())
	case errors.Is(err, hls.ErrNotRunning), errors.Is(err, hls.ErrNotFound):
		writeError(ctx, fasthttp.StatusNotFound, err.Error())
	case errors.Is(err, hls.ErrNoVideo):
		ctx.Response.Header.Set("Retry-After", "2")
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		f.log.Warn(what+" timed out", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
		writeError(ctx, fasthttp.StatusGatewayTimeout, what+" timed out")
	default:
		f.log.Error(what+" failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, what+" failed")
	}
}

// unreadableRequest answers a request fasthttp could not read. A body over
// the route's limit is a 413, answered from its Content-Length before the
// body is read (the restore route's larger limit is the admin's alone);
// everything else keeps fasthttp's answers.
func unreadableRequest(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "request body too large")
	case errors.As(err, &small):
		writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "request header too large")
	case errors.As(err, &ne) && ne.Timeout():
		writeError(ctx, fasthttp.StatusRequestTimeout, "request timeout")
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "error when parsing request")
	}
}
