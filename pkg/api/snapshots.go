package api

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/detect"
)

// snapshotsHandler serves the pictures kept of detection events.
type snapshotsHandler struct {
	failer
	// storage is [storage] path; the snapshots are below it.
	storage string
}

const snapshotsPrefix = "/api/snapshots/"

var snapshotRoutes = []endpoint[*snapshotsHandler]{
	{"GET", snapshotsPrefix + "{stream}/{file}", auth.AccessViewer, (*snapshotsHandler).handleSnapshot},
}

// handleSnapshot sends one snapshot. The names are read from the path as
// the client sent it: fasthttp resolves "..%2f" before routing, so a
// traversal could otherwise arrive here looking like an honest name.
func (h *snapshotsHandler) handleSnapshot(ctx *fasthttp.RequestCtx) {
	path, err := snapshotPath(h.storage, string(ctx.URI().PathOriginal()))
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid snapshot path")
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(ctx, fasthttp.StatusNotFound, "snapshot not found")
		return
	}
	if err != nil {
		h.fail(ctx, "read snapshot", err)
		return
	}
	ctx.SetContentType("image/jpeg")
	ctx.Response.Header.Set("Cache-Control", "private, max-age=86400") // a snapshot never changes
	ctx.SetBody(b)
}

// snapshotPath is the file a raw request path names: exactly
// /api/snapshots/<stream>/<file>.jpg, each name one plain path element.
func snapshotPath(storage, raw string) (string, error) {
	rest, ok := strings.CutPrefix(raw, snapshotsPrefix)
	if !ok {
		return "", detect.ErrSnapshotName
	}
	rest, err := url.PathUnescape(rest)
	if err != nil {
		return "", err
	}
	stream, file, ok := strings.Cut(rest, "/")
	if !ok {
		return "", detect.ErrSnapshotName
	}
	return detect.SnapshotFile(storage, stream, file)
}
