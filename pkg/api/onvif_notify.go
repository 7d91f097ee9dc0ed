package api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/onvif"
)

// onvifNotifyHandler takes the Notify messages of cameras that push their
// events (WS-BaseNotification). Cameras cannot log in, so the route is
// public: the unguessable per-subscription token in the path is what
// admits a message, and the body is bounded and read only as a Notify.
type onvifNotifyHandler struct {
	failer
	consumers *onvif.Consumers
}

var onvifNotifyRoutes = []endpoint[*onvifNotifyHandler]{
	{"POST", onvif.NotifyPath + "{token}", auth.AccessPublic, (*onvifNotifyHandler).handleNotify},
}

func (h *onvifNotifyHandler) handleNotify(ctx *fasthttp.RequestCtx) {
	if len(ctx.PostBody()) > onvif.MaxNotifyBytes {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "notification too large")
		return
	}
	err := h.consumers.Deliver(Param(ctx, "token"), ctx.PostBody())
	switch {
	case errors.Is(err, onvif.ErrUnknownConsumer):
		h.log.Debug("camera notification for an unknown subscription refused", "peer", ctx.RemoteIP().String())
		writeError(ctx, fasthttp.StatusNotFound, "no such subscription")
	case errors.Is(err, onvif.ErrConsumerBusy):
		writeError(ctx, fasthttp.StatusServiceUnavailable, "too many notifications")
	case err != nil:
		h.log.Warn("camera notification refused", "peer", ctx.RemoteIP().String(), "err", err)
		writeError(ctx, fasthttp.StatusBadRequest, "not a notification")
	default:
		ctx.SetStatusCode(fasthttp.StatusOK)
	}
}
