package api

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
	webdist "lightnvr/web-dist"
)

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Our own UI has no inline script: every page of it keeps the strict policy.
func TestOwnPagesKeepTheStrictPolicy(t *testing.T) {
	pages, err := fs.Glob(webdist.FS, "*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in the embedded UI (%v)", err)
	}
	srv, err := New(Deps{Config: config.Default(), Logger: quietLog, Web: webdist.FS, Auth: streamTestAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range append(pages, "") {
		if code, policy := policyOf(srv, "/"+page); code != http.StatusOK || policy != basePolicy {
			t.Errorf("GET /%s: %d, policy %q; want the strict one", page, code, policy)
		}
	}
}

// A user's UI gets exactly its own inline scripts allowed.
func TestPagePolicyAllowsOnlyThePagesInlineScripts(t *testing.T) {
	theme := "\n(function(){ document.documentElement.classList.add('dark') })();\n"
	check := `import'data:text/javascript,if(!import.meta.resolve)throw Error()';window.ok=true`
	page := `<!DOCTYPE html><html><head>
<script type="module" crossorigin src="./assets/app.js"></script>
<SCRIPT>` + theme + `</SCRIPT>
<script type="module">` + check + `</script>
</head><body><script nomodule src="./legacy.js"></script></body></html>`
	srv, err := New(Deps{Config: config.Default(), Logger: quietLog, Auth: streamTestAuth{},
		Web: fstest.MapFS{"index.html": {Data: []byte(page)}, "plain.html": {Data: []byte("<p>no scripts</p>")}}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(basePolicy, "script-src 'self'", "script-src 'self' data: "+cspHash(theme)+" "+cspHash(check), 1)
	if _, got := policyOf(srv, "/index.html"); got != want {
		t.Errorf("policy:\n got %s\nwant %s", got, want)
	}
	if _, got := policyOf(srv, "/plain.html"); got != basePolicy {
		t.Errorf("a page without inline scripts got %q", got)
	}
	// data: only for a page that imports a data: module.
	want = strings.Replace(basePolicy, "script-src 'self'", "script-src 'self' "+cspHash("x()"), 1)
	if got := pagePolicy([]byte(`<script>x()</script>`)); got != want {
		t.Errorf("one plain inline script:\n got %s\nwant %s", got, want)
	}
}

func policyOf(srv *Server, uri string) (int, string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(uri)
	srv.Handle(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Header.Peek("Content-Security-Policy"))
}
