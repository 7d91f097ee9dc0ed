package api

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
	webdist "lightnvr/web-dist"
)

// LightNVR's page addresses open the embedded app; other missing pages are 404.
func TestStaticAppPages(t *testing.T) {
	srv, err := New(Deps{Config: config.Default(), Logger: quietLog, Web: webdist.FS, Auth: streamTestAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	index, err := fs.ReadFile(webdist.FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/", "/index.html", "/recordings.html", "/streams.html", "/users.html", "/settings.html", "/system.html"} {
		code, body := call(srv, "", "GET", page, "")
		if code != http.StatusOK || !bytes.Equal(body, index) {
			t.Errorf("GET %s: %d, %d bytes; want the app's index.html", page, code, len(body))
		}
	}
	if code, _ := call(srv, "", "GET", "/no-such-page.html", ""); code != http.StatusNotFound {
		t.Errorf("GET /no-such-page.html: %d, want 404", code)
	}
	code, body := call(srv, "", "GET", "/login.html", "")
	if code != http.StatusOK || bytes.Equal(body, index) {
		t.Errorf("GET /login.html: %d; want its own page", code)
	}
}

// The appliance embeds the UI's text files only gzipped (NAME.gz): a client
// taking gzip gets the stored bytes, any other the unpacked file, and pages
// keep their own policy and the app's addresses.
func TestStaticServesStoredGzip(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, name := range []string{"index.html", "login.html", "css/app.css"} {
		raw, err := fs.ReadFile(webdist.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		fsys[name+".gz"] = &fstest.MapFile{Data: gz.Bytes()}
	}
	svg, err := fs.ReadFile(webdist.FS, "img/favicon.svg")
	if err != nil {
		t.Fatal(err)
	}
	fsys["img/favicon.svg"] = &fstest.MapFile{Data: svg} // stored as is
	files := newStaticFiles(fsys)
	get := func(path string, gzipOK bool) *fasthttp.Response {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		if gzipOK {
			ctx.Request.Header.Set("Accept-Encoding", "gzip")
		}
		files.serve(&ctx)
		var resp fasthttp.Response
		ctx.Response.CopyTo(&resp)
		return &resp
	}
	for _, c := range []struct{ path, name string }{{"/", "index.html"}, {"/streams.html", "index.html"}, {"/css/app.css", "css/app.css"}} {
		raw, _ := fs.ReadFile(webdist.FS, c.name)
		r := get(c.path, true)
		if r.StatusCode() != 200 || string(r.Header.Peek("Content-Encoding")) != "gzip" || !bytes.Equal(r.Body(), fsys[c.name+".gz"].Data) {
			t.Errorf("GET %s with gzip: %d, encoding %q, %d bytes; want the stored %s.gz as is", c.path, r.StatusCode(), r.Header.Peek("Content-Encoding"), len(r.Body()), c.name)
		}
		r = get(c.path, false)
		if r.StatusCode() != 200 || len(r.Header.Peek("Content-Encoding")) != 0 || !bytes.Equal(r.Body(), raw) {
			t.Errorf("GET %s without gzip: %d, encoding %q; want %s unpacked", c.path, r.StatusCode(), r.Header.Peek("Content-Encoding"), c.name)
		}
	}
	if r := get("/", true); !strings.Contains(string(r.Header.Peek("Content-Security-Policy")), "script-src 'self'") {
		t.Errorf("the gzipped index.html lost its page policy: %q", r.Header.Peek("Content-Security-Policy"))
	}
	if r := get("/img/favicon.svg", false); r.StatusCode() != 200 || !bytes.Equal(r.Body(), svg) {
		t.Errorf("a file stored as is: %d, %d bytes", r.StatusCode(), len(r.Body()))
	}
}
