package api

import (
	"bytes"
	"io/fs"
	"net/http"
	"testing"

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
