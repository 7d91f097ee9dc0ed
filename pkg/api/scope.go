package api

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
)

// A user's allowed_tags restricts them to the streams sharing one of those
// tags (as LightNVR). Every route that names a stream or a recording in its
// path is checked here, once, before its handler runs; the stream and
// recording lists filter their rows with visibleStreams.

// scopeKind says which path parameter names the stream a route acts on.
type scopeKind int

const (
	scopeNone      scopeKind = iota
	scopeStream              // {name} or {stream}: a stream name
	scopeRecording           // {id} under /api/recordings: a recording
	scopeQuery               // ?stream= or go2rtc's ?src=: a stream name
)

// scopeOf classifies a route pattern.
func scopeOf(pattern string) scopeKind {
	switch {
	case strings.Contains(pattern, "{name}") || strings.Contains(pattern, "{stream}"):
		return scopeStream
	case strings.HasPrefix(pattern, "/api/recordings/") && strings.Contains(pattern, "{id}"):
		return scopeRecording
	case pattern == "/api/export" || strings.HasPrefix(pattern, "/api/timeline/") || strings.HasPrefix(pattern, "/go2rtc/"):
		// One stream in the query; the lists filter their rows instead.
		return scopeQuery
	}
	return scopeNone
}

// inScope answers 403 and returns false when the caller's allowed_tags
// exclude the stream the route acts on. A stream or recording that does not
// exist is left to the handler (404), as is a malformed id (400).
func (s *Server) inScope(ctx *fasthttp.RequestCtx, rt *route) bool {
	p := PrincipalOf(ctx)
	if p == nil || p.AllowedTags == nil || s.db == nil {
		return true
	}
	switch rt.scope {
	case scopeNone:
		return true
	case scopeQuery:
		// go2rtc's derived sub-stream belongs to its stream.
		for _, key := range []string{"stream", "src"} {
			if v := string(ctx.QueryArgs().Peek(key)); v != "" && !allowStream(ctx, s.failer, s.db, strings.TrimSuffix(v, "_sub"), true) {
				return false
			}
		}
		return true
	}
	name := Param(ctx, "name") + Param(ctx, "stream")
	if rt.scope == scopeRecording {
		id, err := strconv.ParseInt(Param(ctx, "id"), 10, 64)
		if err != nil {
			return true
		}
		r, err := db.GetRecording(requestContext(ctx), s.db, id)
		if errors.Is(err, db.ErrRecordingNotFound) {
			return true
		}
		if err != nil {
			s.fail(ctx, "check stream access", err)
			return false
		}
		name = r.StreamName
	}
	return allowStream(ctx, s.failer, s.db, name, rt.scope == scopeStream)
}

// allowStream answers 403 and returns false when the caller's allowed_tags
// exclude stream. An unknown stream passes when unknownPasses (the
// handler answers 404); otherwise it has no tags to share (a recording of
// a deleted stream).
func allowStream(ctx *fasthttp.RequestCtx, f failer, d *db.DB, stream string, unknownPasses bool) bool {
	p := PrincipalOf(ctx)
	if p == nil || p.AllowedTags == nil {
		return true
	}
	st, err := db.StreamByName(requestContext(ctx), d, stream)
	switch {
	case errors.Is(err, db.ErrStreamNotFound):
		if unknownPasses {
			return true
		}
		st = &db.Stream{}
	case err != nil:
		f.fail(ctx, "check stream access", err)
		return false
	}
	if !p.MaySee(st.Tags) {
		writeError(ctx, fasthttp.StatusForbidden, "Forbidden: this stream is outside your allowed tags")
		return false
	}
	return true
}

// visibleStreams returns the names of the streams the caller may see, and
// all=true (names nil) when the caller is unrestricted.
func visibleStreams(ctx *fasthttp.RequestCtx, d *db.DB) (names []string, all bool, err error) {
	p := PrincipalOf(ctx)
	if p == nil || p.AllowedTags == nil {
		return nil, true, nil
	}
	rows, err := db.ListStreams(requestContext(ctx), d)
	if err != nil {
		return nil, false, err
	}
	names = []string{}
	for _, r := range rows {
		if p.MaySee(r.Tags) {
			names = append(names, r.Name)
		}
	}
	return names, false, nil
}

// limitToVisible narrows f to the streams the caller may see.
func limitToVisible(ctx *fasthttp.RequestCtx, d *db.DB, f *db.RecordingFilter) error {
	names, all, err := visibleStreams(ctx, d)
	if err != nil || all {
		return err
	}
	if len(f.Streams) > 0 {
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(f.Streams, n) })
	}
	if len(names) == 0 {
		// No stream is named "": an empty list would mean every stream.
		names = []string{""}
	}
	f.Streams = names
	return nil
}
