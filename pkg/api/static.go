package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// staticFiles serves the web UI from an fs.FS (embedded or a directory). The UI is
// small, so each file is read once and kept with its gzip form and ETag: a box on
// a slow link then sends each asset once and answers 304 after that.
//
// A file may also be stored only gzipped, as NAME.gz: the appliance's binary
// embeds the UI that way (web-dist/embed_gz.go), which keeps about 200 KB of
// text out of its flash. Such a file is sent as stored to clients that take
// gzip; it is unpacked when first read, for a page's policy and the rare
// client that does not.
type staticFiles struct {
	fsys  fs.FS
	mu    sync.Mutex
	cache map[string]*staticFile
}

type staticFile struct {
	body        []byte
	gz          []byte // nil when compression does not pay
	etag        string
	contentType string
	immutable   bool
	policy      string // the page's own Content-Security-Policy; "" for non-HTML
}

func newStaticFiles(fsys fs.FS) *staticFiles {
	return &staticFiles{fsys: fsys, cache: map[string]*staticFile{}}
}

func (s *staticFiles) load(name string) (*staticFile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.cache[name]; ok {
		return f, f != nil
	}
	f, err := readStatic(s.fsys, name)
	if err != nil {
		// Cache misses too, but bounded: a scanner must not grow the map forever.
		if len(s.cache) < 4096 {
			s.cache[name] = nil
		}
		return nil, false
	}
	body := f.body
	f.contentType = mime.TypeByExtension(path.Ext(name))
	if f.contentType == "" {
		f.contentType = "application/octet-stream"
	}
	if f.gz == nil && compressible(f.contentType) && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body)*9/10 {
			f.gz = buf.Bytes()
		}
	}
	f.immutable = strings.HasPrefix(name, "vendor/")
	if strings.HasPrefix(f.contentType, "text/html") {
		f.policy = pagePolicy(body)
	}
	s.cache[name] = f
	return f, true
}

// readStatic reads name, or else its gzipped NAME.gz: the file's ETag is
// the hash of what is stored.
func readStatic(fsys fs.FS, name string) (*staticFile, error) {
	body, err := fs.ReadFile(fsys, name)
	var gz []byte
	if err != nil {
		if gz, err = fs.ReadFile(fsys, name+".gz"); err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("%s.gz: %w", name, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s.gz: %w", name, err)
		}
	}
	stored := body
	if gz != nil {
		stored = gz
	}
	sum := sha256.Sum256(stored)
	return &staticFile{body: body, gz: gz, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
}

// appPages are LightNVR's page addresses, kept working for bookmarks and its
// Home Assistant add-on; a UI directory that has such a file serves it instead.
var appPages = map[string]bool{
	"recordings.html": true, "streams.html": true, "users.html": true,
	"settings.html": true, "system.html": true,
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

func (s *staticFiles) serve(ctx *fasthttp.RequestCtx) {
	p := path.Clean("/" + string(ctx.Path()))
	name := strings.TrimPrefix(p, "/")
	if name == "" || strings.HasSuffix(string(ctx.Path()), "/") {
		name = path.Join(name, "index.html")
	}
	if !fs.ValidPath(name) {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid path")
		return
	}
	f, ok := s.load(name)
	if !ok && appPages[name] {
		// LightNVR's page addresses open the single-page app, which routes on the path.
		f, ok = s.load("index.html")
	}
	if !ok {
		// Directory without trailing slash, or a page addressed without .html.
		if f, ok = s.load(path.Join(name, "index.html")); !ok {
			if f, ok = s.load(name + ".html"); !ok {
				writeError(ctx, fasthttp.StatusNotFound, "Not Found")
				return
			}
		}
	}
	h := &ctx.Response.Header
	h.Set("ETag", f.etag)
	if f.policy != "" {
		h.Set("Content-Security-Policy", f.policy)
	}
	if f.immutable {
		h.Set("Cache-Control", "public, max-age=604800")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Vary", "Accept-Encoding")
	if string(ctx.Request.Header.Peek("If-None-Match")) == f.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(f.contentType)
	if f.gz != nil && ctx.Request.Header.HasAcceptEncoding("gzip") {
		h.Set("Content-Encoding", "gzip")
		ctx.SetBody(f.gz)
		return
	}
	ctx.SetBody(f.body)
}
