package api

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
)

// LightNVR's file routes take a path. Ours answer only for paths inside
// the storage directory (by text and through symlinks), and delete only
// the file of a recording, through the storage controller like every
// other delete: the API is never a way to read or unlink arbitrary files.

// filePath reads ?path= and checks it lies inside the storage directory; it
// answers 400/403 itself. exists is false when nothing is there.
func (h *recordingsHandler) filePath(ctx *fasthttp.RequestCtx) (path string, exists, ok bool) {
	p := string(ctx.QueryArgs().Peek("path"))
	if p == "" || !filepath.IsAbs(p) {
		writeError(ctx, fasthttp.StatusBadRequest, "path must be an absolute file path")
		return "", false, false
	}
	_, err := h.recordingFile(p)
	switch {
	case err == nil:
		return filepath.Clean(p), true, true
	case errors.Is(err, fs.ErrNotExist):
		return filepath.Clean(p), false, true
	case errors.Is(err, errOutsideStorage):
		writeError(ctx, fasthttp.StatusForbidden, "path is outside the storage directory")
	default:
		h.fail(ctx, "check file", err)
	}
	return "", false, false
}

// handleCheckFile: GET /api/recordings/files/check?path= → {exists, size, mtime}.
func (h *recordingsHandler) handleCheckFile(ctx *fasthttp.RequestCtx) {
	path, exists, ok := h.filePath(ctx)
	if !ok {
		return
	}
	out := map[string]any{"exists": false, "size": 0, "mtime": 0}
	if exists {
		fi, err := os.Stat(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			h.fail(ctx, "check file", err)
			return
		}
		if err == nil {
			out = map[string]any{"exists": true, "size": fi.Size(), "mtime": fi.ModTime().Unix()}
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// handleDeleteFile: DELETE /api/recordings/files?path= deletes the
// recording whose file it is → {success, existed}. A path with nothing
// there is {success: true, existed: false}, as LightNVR; a file that is no
// recording's is 404 and stays.
func (h *recordingWriter) handleDeleteFile(ctx *fasthttp.RequestCtx) {
	path, exists, ok := h.filePath(ctx)
	if !ok {
		return
	}
	r, err := db.RecordingByPath(requestContext(ctx), h.db, path)
	switch {
	case errors.Is(err, db.ErrRecordingNotFound) && !exists:
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "existed": false})
		return
	case errors.Is(err, db.ErrRecordingNotFound):
		writeError(ctx, fasthttp.StatusNotFound, "no recording has this file; only recordings are deleted")
		return
	case err != nil:
		h.fail(ctx, "delete file", err)
		return
	}
	if !allowStream(ctx, h.failer, h.db, r.StreamName, false) {
		return
	}
	it, err := db.GetRecordingItem(requestContext(ctx), h.db, r.ID)
	if err != nil {
		h.fail(ctx, "delete file", err)
		return
	}
	if h.deleteItem(ctx, it) {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "existed": exists})
	}
}

// handleSync: POST /api/recordings/sync corrects recording sizes from the
// files on disk → {success, message, updated}.
func (h *recordingWriter) handleSync(ctx *fasthttp.RequestCtx) {
	n, err := h.store.Sync(requestContext(ctx))
	if err != nil {
		h.fail(ctx, "sync recordings", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Recording sync complete", "updated": n})
}
