package api

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

func (h *recordingsHandler) handlePlayRecording(ctx *fasthttp.RequestCtx) {
	h.serveRecording(ctx, false)
}

func (h *recordingsHandler) handleDownloadRecording(ctx *fasthttp.RequestCtx) {
	h.serveRecording(ctx, true)
}

// fileSection streams part of an open file; fasthttp closes it once the
// body is written (or the connection is gone).
type fileSection struct {
	*io.SectionReader
	f *os.File
}

func (r *fileSection) Close() error { return r.f.Close() }

// serveRecording sends a recording's file with Range, ETag and
// If-None-Match/If-Range support, streamed from disk. A segment still
// being written is served at its current size: its ETag changes as it
// grows, so a player re-fetching gets the new bytes.
func (h *recordingsHandler) serveRecording(ctx *fasthttp.RequestCtx, attachment bool) {
	it, ok := h.loadRecording(ctx)
	if !ok {
		return
	}
	path, err := h.recordingFile(it.FilePath)
	switch {
	case errors.Is(err, errOutsideStorage):
		h.log.Warn("recording file outside storage refused", "id", it.ID, "path", it.FilePath)
		writeErrorf(ctx, fasthttp.StatusForbidden, "recording %d: %v", it.ID, err)
		return
	case errors.Is(err, fs.ErrNotExist):
		writeErrorf(ctx, fasthttp.StatusNotFound, "recording %d: file not found", it.ID)
		return
	case err != nil:
		h.fail(ctx, "open recording", err)
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		writeErrorf(ctx, fasthttp.StatusNotFound, "recording %d: file not found", it.ID)
		return
	}
	if err != nil {
		h.fail(ctx, "open recording", err)
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			_ = f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		h.fail(ctx, "open recording", err)
		return
	}
	if !st.Mode().IsRegular() {
		writeErrorf(ctx, fasthttp.StatusForbidden, "recording %d: not a regular file", it.ID)
		return
	}
	size := st.Size()
	mtime := st.ModTime()
	etag := fmt.Sprintf(`"%x-%x-%x"`, it.ID, size, mtime.UnixNano())

	hdr := &ctx.Response.Header
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("ETag", etag)
	hdr.Set("Last-Modified", mtime.UTC().Format(http.TimeFormat))
	// Revalidate every time: the ETag makes that cheap, and a growing
	// segment must never be served stale from a cache.
	hdr.Set("Cache-Control", "private, no-cache")
	if attachment {
		hdr.Set("Content-Disposition", `attachment; filename="`+downloadName(it.FilePath)+`"`)
	}

	start, length, done := byteRange(ctx, etag, mtime, size)
	if done {
		return
	}
	ctx.SetContentType("video/mp4")
	handedOff = true
	ctx.SetBodyStream(&fileSection{SectionReader: io.NewSectionReader(f, start, length), f: f}, int(length))
}

// byteRange answers If-None-Match with 304 and applies Range (and
// If-Range) to a body of size bytes validated by etag and mtime (zero when
// there is no Last-Modified), setting the status and Content-Range. done
// means the reply is complete (304 or 416).
func byteRange(ctx *fasthttp.RequestCtx, etag string, mtime time.Time, size int64) (start, length int64, done bool) {
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagListMatches(string(inm), etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return 0, 0, true
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	rh := ctx.Request.Header.Peek("Range")
	if len(rh) == 0 || !ifRangeHolds(string(ctx.Request.Header.Peek("If-Range")), etag, mtime) {
		return 0, size, false
	}
	hdr := &ctx.Response.Header
	rs, rl, kind := parseByteRange(string(rh), size)
	switch kind {
	case rangeUnsatisfiable:
		hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		writeErrorf(ctx, fasthttp.StatusRequestedRangeNotSatisfiable, "range %q not satisfiable for %d bytes", string(rh), size)
		return 0, 0, true
	case rangeOne:
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rs, rs+rl-1, size))
		return rs, rl, false
	}
	return 0, size, false
}

// downloadName is the file's base name with anything that could break
// the header quoting replaced.
func downloadName(p string) string {
	b := []byte(filepath.Base(p))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// etagListMatches applies If-None-Match's weak comparison.
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// ifRangeHolds: without If-Range the Range applies; with it, only when the
// validator is our (strong) ETag or the exact Last-Modified date.
func ifRangeHolds(v, etag string, mtime time.Time) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return true
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return v == etag
	}
	t, err := http.ParseTime(v)
	return err == nil && t.Equal(mtime.UTC().Truncate(time.Second)) && mtime.Equal(mtime.Truncate(time.Second))
}

type rangeKind int

const (
	rangeNone          rangeKind = iota // ignore the header: send the whole file
	rangeOne                            // one satisfiable range
	rangeUnsatisfiable                  // 416
)

// parseByteRange reads a Range header against a file of size bytes. One
// range is served as 206. A multi-range request is answered with the whole
// file (200), which RFC 9110 allows, rather than multipart/byteranges,
// which no player needs. A unit other than bytes is ignored (200); a
// malformed or unsatisfiable bytes range gives 416.
func parseByteRange(h string, size int64) (start, length int64, kind rangeKind) {
	h = strings.TrimSpace(h)
	unit, spec, ok := strings.Cut(h, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return 0, 0, rangeNone
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return 0, 0, rangeNone
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, rangeUnsatisfiable
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// Suffix: the last n bytes.
		n, err := parseDigits(last)
		if err != nil || n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		n = min(n, size)
		return size - n, n, rangeOne
	}
	a, err := parseDigits(first)
	if err != nil || a >= size {
		return 0, 0, rangeUnsatisfiable
	}
	b := size - 1
	if last != "" {
		if b, err = parseDigits(last); err != nil || b < a {
			return 0, 0, rangeUnsatisfiable
		}
		b = min(b, size-1)
	}
	return a, b - a + 1, rangeOne
}

func parseDigits(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a byte position: %q", s)
	}
	return strconv.ParseInt(s, 10, 64)
}
