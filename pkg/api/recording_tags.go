package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// recordingTagsHandler serves the free-form tags users put on recordings.
type recordingTagsHandler struct {
	failer
	db *db.DB
}

// Limits of a recording's tags. A comma cannot be in a tag: the list's
// tag filter takes a comma-separated list.
const (
	maxRecordingTags  = 32
	maxRecordingTagLn = 64
)

// recordingTagRoutes go before /api/recordings/{id}, which would take
// /api/recordings/tags. Changing tags is a write, as protecting is.
var recordingTagRoutes = []endpoint[*recordingTagsHandler]{
	{"GET", "/api/recordings/tags", auth.AccessViewer, (*recordingTagsHandler).handleAllTags},
	{"POST", "/api/recordings/batch-tags", auth.AccessWriter, (*recordingTagsHandler).handleBatchTags},
	{"GET", "/api/recordings/{id}/tags", auth.AccessViewer, (*recordingTagsHandler).handleGetTags},
	{"PUT", "/api/recordings/{id}/tags", auth.AccessWriter, (*recordingTagsHandler).handleSetTags},
}

// cleanTags checks a request's tags: trimmed, without empty ones or
// repeats; a tag too long, with a comma, or too many of them is an error.
func cleanTags(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.TrimSpace(t)
		switch {
		case t == "" || slices.Contains(out, t):
			continue
		case len(t) > maxRecordingTagLn:
			return nil, fmt.Errorf("%s: tag %.20q… is longer than %d bytes", field, t, maxRecordingTagLn)
		case strings.ContainsAny(t, ",\x00\n\r"):
			return nil, fmt.Errorf("%s: tag %q may not contain a comma or a line break", field, t)
		}
		out = append(out, t)
	}
	if len(out) > maxRecordingTags {
		return nil, fmt.Errorf("%s: %d tags; at most %d", field, len(out), maxRecordingTags)
	}
	return out, nil
}

// handleAllTags: GET /api/recordings/tags → {tags}, every tag in use on
// the recordings the caller may see.
func (h *recordingTagsHandler) handleAllTags(ctx *fasthttp.RequestCtx) {
	// names is nil for a caller who sees every stream.
	names, _, err := visibleStreams(ctx, h.db)
	var tags []string
	if err == nil {
		tags, err = db.RecordingTagNames(requestContext(ctx), h.db, names)
	}
	if err != nil {
		h.fail(ctx, "list recording tags", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"tags": orEmpty(tags)})
}

// handleGetTags: GET /api/recordings/{id}/tags → {id, tags}.
func (h *recordingTagsHandler) handleGetTags(ctx *fasthttp.RequestCtx) {
	id, ok := h.existing(ctx)
	if ok {
		h.replyTags(ctx, id)
	}
}

// handleSetTags: PUT /api/recordings/{id}/tags {tags} replaces the set →
// {id, tags}.
func (h *recordingTagsHandler) handleSetTags(ctx *fasthttp.RequestCtx) {
	var body struct {
		Tags *[]string `json:"tags"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	if body.Tags == nil {
		writeError(ctx, fasthttp.StatusBadRequest, `field "tags" (a list of strings) is required`)
		return
	}
	tags, err := cleanTags("tags", *body.Tags)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	id, ok := h.existing(ctx)
	if !ok {
		return
	}
	if err := h.db.SetRecordingTags(requestContext(ctx), id, tags); err != nil {
		h.fail(ctx, "set recording tags", err)
		return
	}
	h.replyTags(ctx, id)
}

// existing parses {id} and checks the recording exists; on failure it has
// replied (400 or 404).
func (h *recordingTagsHandler) existing(ctx *fasthttp.RequestCtx) (int64, bool) {
	id, ok := recordingID(ctx)
	if !ok {
		return 0, false
	}
	_, err := db.GetRecording(requestContext(ctx), h.db, id)
	_, ok = found(ctx, h.failer, "get recording", id, err, db.ErrRecordingNotFound, fmt.Sprintf("recording %d not found", id))
	return id, ok
}

func (h *recordingTagsHandler) replyTags(ctx *fasthttp.RequestCtx, id int64) {
	tags, err := db.RecordingTagsOf(requestContext(ctx), h.db, []int64{id})
	if err != nil {
		h.fail(ctx, "get recording tags", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"id": id, "tags": orEmpty(tags[id])})
}

// handleBatchTags: POST /api/recordings/batch-tags {ids, add?, remove?} →
// {recordings_count, tags_added, tags_removed}. Ids the caller may not
// see, or that do not exist, are left out of the count.
func (h *recordingTagsHandler) handleBatchTags(ctx *fasthttp.RequestCtx) {
	var body struct {
		IDs    []int64  `json:"ids"`
		Add    []string `json:"add"`
		Remove []string `json:"remove"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	ids, err := cleanIDs(body.IDs)
	add, errAdd := cleanTags("add", body.Add)
	remove, errRemove := cleanTags("remove", body.Remove)
	for _, e := range []error{err, errAdd, errRemove} {
		if e != nil {
			writeError(ctx, fasthttp.StatusBadRequest, e.Error())
			return
		}
	}
	if len(add)+len(remove) == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, `give tags to "add" or "remove"`)
		return
	}
	if ids, err = visibleIDs(ctx, h.db, ids); err != nil {
		h.fail(ctx, "batch tag recordings", err)
		return
	}
	c, err := h.db.ChangeRecordingTags(requestContext(ctx), ids, add, remove)
	if err != nil {
		h.fail(ctx, "batch tag recordings", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"recordings_count": len(ids), "tags_added": c.Added, "tags_removed": c.Removed})
}

// visibleIDs keeps those of ids that exist and lie in a stream the caller
// may see, in id order.
func visibleIDs(ctx *fasthttp.RequestCtx, d *db.DB, ids []int64) ([]int64, error) {
	f := db.RecordingFilter{}
	if err := limitToVisible(ctx, d, &f); err != nil {
		return nil, err
	}
	var out []int64
	for chunk := range slices.Chunk(ids, batchChunk) {
		f.IDs = chunk
		got, err := db.RecordingIDsMatching(requestContext(ctx), d, f, len(chunk))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// orEmpty makes a nil list an empty one, so it encodes as [] not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
