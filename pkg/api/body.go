package api

import (
	"bytes"
	"io"

	"github.com/valyala/fasthttp"
)

// streamedRoutes read their request body as a stream, past maxJSONBody;
// every other route gets it whole and bounded (see boundBody).
var streamedRoutes = map[string]bool{"POST /api/system/ota": true, "POST /api/system/restore": true}

// requestBody reads a streamed route's body: fasthttp streams it only when
// it did not arrive with the headers.
func requestBody(ctx *fasthttp.RequestCtx) io.Reader {
	if r := ctx.RequestBodyStream(); r != nil {
		return r
	}
	return bytes.NewReader(ctx.PostBody())
}

// boundBody gives a route that is not streamed its body whole, refusing one
// past maxJSONBody with 413 as before streaming was enabled; false means it
// answered.
func boundBody(ctx *fasthttp.RequestCtx, rt *route) bool {
	if streamedRoutes[rt.method+" "+rt.pattern] || !ctx.Request.IsBodyStream() {
		return true
	}
	if ctx.Request.Header.ContentLength() > maxJSONBody {
		writeErrorf(ctx, fasthttp.StatusRequestEntityTooLarge, "request body is larger than %d bytes", maxJSONBody)
		return false
	}
	body, err := io.ReadAll(io.LimitReader(ctx.RequestBodyStream(), maxJSONBody+1))
	if err != nil || len(body) > maxJSONBody {
		writeErrorf(ctx, fasthttp.StatusRequestEntityTooLarge, "request body is larger than %d bytes", maxJSONBody)
		return false
	}
	ctx.Request.SetBody(body)
	return true
}
