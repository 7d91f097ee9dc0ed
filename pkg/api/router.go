package api

import (
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

// route is one entry of the route table. Patterns are matched segment by segment:
// `{name}` takes exactly one segment, a trailing `{name...}` takes the rest.
// First match wins, as in LightNVR, so specific routes are registered before
// parameterised ones.
type route struct {
	method  string
	pattern string
	segs    []string
	access  auth.Access
	scope   scopeKind // the stream the route acts on, for allowed_tags
	handler fasthttp.RequestHandler
}

type router struct {
	routes []*route
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (r *router) add(method, pattern string, access auth.Access, h fasthttp.RequestHandler) {
	if access < auth.AccessPublic || access > auth.AccessAdmin {
		panic("api: route " + method + " " + pattern + " registered without an access level")
	}
	segs := splitPath(pattern)
	for _, rt := range r.routes {
		// First match wins: a route every path of which an earlier one
		// already takes (the same pattern, or DELETE /api/recordings/files
		// after DELETE /api/recordings/{id}) would never be reached.
		if _, covered := matchSegs(rt.segs, segs); rt.method == method && covered {
			panic("api: route " + method + " " + pattern + " is shadowed by " + rt.pattern + ": register it first")
		}
	}
	r.routes = append(r.routes, &route{method: method, pattern: pattern, segs: segs, access: access,
		scope: scopeOf(pattern), handler: h})
}

// match finds the route for method and path. When the path matches only under other
// methods, it returns nil and methodMismatch=true so the caller can answer 405.
func (r *router) match(method, path string) (rt *route, params map[string]string, methodMismatch bool) {
	segs := splitPath(path)
	for _, cand := range r.routes {
		p, ok := matchSegs(cand.segs, segs)
		if !ok {
			continue
		}
		if cand.method != method && !(method == fasthttp.MethodHead && cand.method == fasthttp.MethodGet) {
			methodMismatch = true
			continue
		}
		return cand, p, false
	}
	return nil, nil, methodMismatch
}

func matchSegs(pattern, path []string) (map[string]string, bool) {
	var params map[string]string
	for i, ps := range pattern {
		if strings.HasPrefix(ps, "{") && strings.HasSuffix(ps, "...}") {
			if i >= len(path) {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[ps[1:len(ps)-4]] = strings.Join(path[i:], "/")
			return params, true
		}
		if i >= len(path) {
			return nil, false
		}
		if strings.HasPrefix(ps, "{") && strings.HasSuffix(ps, "}") {
			if path[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[ps[1:len(ps)-1]] = path[i]
			continue
		}
		if ps != path[i] {
			return nil, false
		}
	}
	if len(pattern) != len(path) {
		return nil, false
	}
	return params, true
}

// endpoint is one row of a resource's route table: a route, the access its
// callers need, and the method of the resource's handler that serves it.
type endpoint[H any] struct {
	method  string
	pattern string
	access  auth.Access
	serve   func(H, *fasthttp.RequestCtx)
}

// mount adds a resource's route table. When a part the resource needs is not
// running (ready false) the routes still exist, with their access levels, and
// down answers them (usually unavailable: 503); build is only called when ready.
func mount[H any](r *router, table []endpoint[H], ready bool, down fasthttp.RequestHandler, build func() H) {
	if !ready {
		for _, e := range table {
			r.add(e.method, e.pattern, e.access, down)
		}
		return
	}
	h := build()
	for _, e := range table {
		r.add(e.method, e.pattern, e.access, func(ctx *fasthttp.RequestCtx) { e.serve(h, ctx) })
	}
}

// unavailable answers 503 with why.
func unavailable(why string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) { writeError(ctx, fasthttp.StatusServiceUnavailable, why) }
}

// RouteInfo describes a registered route, for tests and documentation.
type RouteInfo struct {
	Method  string
	Pattern string
	Access  auth.Access
}

// Routes lists the route table in match order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.router.routes))
	for _, rt := range s.router.routes {
		out = append(out, RouteInfo{Method: rt.method, Pattern: rt.pattern, Access: rt.access})
	}
	return out
}
