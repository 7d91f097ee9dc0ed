package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

const (
	userValueParams    = "lightnvr.params"
	userValuePrincipal = "lightnvr.principal"
)

// maxJSONBody bounds every JSON request body; uploads have their own routes and limits.
const maxJSONBody = 1 << 20

// Param returns a path parameter of the matched route, "" when absent.
func Param(ctx *fasthttp.RequestCtx, name string) string {
	if p, ok := ctx.UserValue(userValueParams).(map[string]string); ok {
		return p[name]
	}
	return ""
}

// PrincipalOf returns the authenticated caller, or nil on a public route without credentials.
func PrincipalOf(ctx *fasthttp.RequestCtx) *auth.Principal {
	p, _ := ctx.UserValue(userValuePrincipal).(*auth.Principal)
	return p
}

// writeJSON replies with v as JSON. API responses are never cached: they describe live state.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = fasthttp.StatusInternalServerError
		body = []byte(`{"error":"encode response: ` + jsonEscape(err.Error()) + `"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	ctx.SetBody(body)
}

// writeError replies {"error": msg}, LightNVR's error shape.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, map[string]string{"error": msg})
}

// writeErrorf is writeError with formatting.
func writeErrorf(ctx *fasthttp.RequestCtx, status int, format string, args ...any) {
	writeError(ctx, status, fmt.Sprintf(format, args...))
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// decodeJSON strictly decodes the request body into v: unknown fields, trailing data,
// wrong types and oversized bodies are errors whose text says what is wrong, ready
// to be sent back with 400.
func decodeJSON(ctx *fasthttp.RequestCtx, v any) error {
	body := ctx.PostBody()
	if len(body) == 0 {
		return errors.New("request body is empty; expected a JSON object")
	}
	if len(body) > maxJSONBody {
		return fmt.Errorf("request body is %d bytes; the limit is %d", len(body), maxJSONBody)
	}
	return decodeJSONBytes(body, v)
}

// readJSON is decodeJSON that answers 400 itself; false means it did.
func readJSON(ctx *fasthttp.RequestCtx, v any) bool {
	if err := decodeJSON(ctx, v); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func decodeJSONBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: unexpected data after the object")
	}
	return nil
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return fmt.Errorf("invalid JSON: field %q must be %s, not %s", field, typ.Type.String(), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: body ends early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("invalid JSON: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("invalid JSON: %v", err)
}
