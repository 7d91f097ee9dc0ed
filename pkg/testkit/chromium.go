package testkit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumSwitches keep the browser quiet and local: no first-run UI, no
// update, sync or background fetches, no QUIC, no GPU (there is none in CI),
// no sandbox (tests run as root in CI).
var chromiumSwitches = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run", "no-default-browser-check",
	"disable-background-networking", "disable-component-update", "disable-sync", "disable-default-apps",
	"disable-extensions", "disable-domain-reliability", "disable-client-side-phishing-detection",
	"metrics-recording-only", "mute-audio", "disable-dev-shm-usage",
}

// ChromiumBinary finds Debian's chromium (or another Chromium on PATH).
func ChromiumBinary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "chromium is not installed (apt-get install chromium)")
	return ""
}

// Browser is one headless Chromium with a fresh profile, stopped in t.Cleanup.
type Browser struct {
	ctx context.Context
}

// StartChromium launches headless Chromium. The window is width×height CSS
// pixels; extra adds flags (say, to accept a self-signed certificate).
func StartChromium(t testing.TB, width, height int, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	bin := ChromiumBinary(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	for _, name := range chromiumSwitches {
		opts = append(opts, chromedp.Flag(name, true))
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// Start the browser now so a broken install fails here, with its message.
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return &Browser{ctx: bctx}
}

// Page is one browser tab that records console errors, uncaught exceptions,
// browser log errors and the URL of every request it makes.
type Page struct {
	Ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	errors   []string
	requests []string
	failed   []string // "STATUS METHOD URL" of answers >= 400
	methods  map[network.RequestID]string
	ignore   []*regexp.Regexp
}

// NewPage opens a tab. Its context is cancelled in t.Cleanup.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	p := &Page{}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.onEvent))
	p.Ctx, p.cancel = ctx, cancel
	err := chromedp.Do(ctx)
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, log.Enable, cdp.Empty{})
	}
	if err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	t.Cleanup(cancel)
	return p
}

// IgnoreErrors drops console errors matching re (e.g. an expected 401 while
// testing a refused login).
func (p *Page) IgnoreErrors(re string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ignore = append(p.ignore, regexp.MustCompile(re))
}

func (p *Page) onEvent(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		p.addError("console." + string(e.Type) + ": " + strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		p.addError(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			p.addError(fmt.Sprintf("log(%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		p.mu.Lock()
		p.requests = append(p.requests, e.Request.URL)
		if p.methods == nil {
			p.methods = map[network.RequestID]string{}
		}
		p.methods[e.RequestID] = e.Request.Method
		p.mu.Unlock()
	case *network.EventResponseReceived:
		if e.Response.Status < 400 {
			return
		}
		p.mu.Lock()
		p.failed = append(p.failed, fmt.Sprintf("%d %s %s", e.Response.Status, p.methods[e.RequestID], e.Response.URL))
		p.mu.Unlock()
	}
}

func (p *Page) addError(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, re := range p.ignore {
		if re.MatchString(s) {
			return
		}
	}
	p.errors = append(p.errors, s)
}

// Errors returns the errors seen so far and forgets them.
func (p *Page) Errors() []string { return p.drain(&p.errors) }

// FailedRequests returns "STATUS METHOD URL" for every answer of 400 or more
// since the last call, and forgets them.
func (p *Page) FailedRequests() []string { return p.drain(&p.failed) }

func (p *Page) drain(list *[]string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := *list
	*list = nil
	return out
}

// ForeignRequests returns every request URL whose host is not loopback
// (data: and blob: URLs never leave the browser and are not counted).
func (p *Page) ForeignRequests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, raw := range p.requests {
		u, err := url.Parse(raw)
		if err != nil {
			out = append(out, raw)
			continue
		}
		switch u.Scheme {
		case "data", "blob", "about", "chrome", "devtools":
			continue
		}
		h := u.Hostname()
		if h != "127.0.0.1" && h != "localhost" && h != "::1" {
			out = append(out, raw)
		}
	}
	return out
}

// Do runs chromedp actions on the page with a deadline.
func (p *Page) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression (promises awaited) and decodes its result.
func Eval[T any](p *Page, timeout time.Duration, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Screenshot saves a PNG of the viewport as an artefact and returns its path.
func (p *Page) Screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(ArtifactDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return ""
	}
	t.Logf("screenshot: %s", path)
	return path
}

var artifactDirs sync.Map

// ArtifactDir is where a test keeps files for people to look at: $ARTIFACT_DIR/<test>
// when ARTIFACT_DIR is set (CI keeps it), a temporary directory otherwise.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	if d, ok := artifactDirs.Load(t.Name()); ok {
		return d.(string)
	}
	var dir string
	if base := os.Getenv("ARTIFACT_DIR"); base != "" {
		dir = filepath.Join(base, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("artifact dir: %v", err)
		}
	} else {
		dir = t.TempDir()
	}
	artifactDirs.Store(t.Name(), dir)
	return dir
}
