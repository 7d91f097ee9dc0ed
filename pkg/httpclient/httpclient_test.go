package httpclient_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/httpclient"
)

// A streamed answer runs for as long as the peer keeps sending, past any
// single Silence; a peer that falls silent for longer is dropped.
func TestSilenceBoundsEachWaitNotTheStream(t *testing.T) {
	const silence = 2 * time.Second
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		for i := 0; i < 30; i++ { // 3 s in all, a chunk every 100 ms
			_, _ = io.WriteString(w, "chunk\n")
			f.Flush()
			time.Sleep(100 * time.Millisecond)
		}
		if r.URL.Query().Has("stall") {
			select { // until the client drops the stream, or gives up waiting
			case <-r.Context().Done():
			case <-time.After(4 * silence):
			}
		}
	}))
	defer srv.Close()
	c := httpclient.New(httpclient.Options{Silence: silence})

	read := func(url string) (string, error) {
		req, resp := new(fasthttp.Request), new(fasthttp.Response)
		req.SetRequestURI(url)
		resp.StreamBody = true
		if err := c.Do(context.Background(), req, resp); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.CloseBodyStream()
		b, err := io.ReadAll(resp.BodyStream())
		return string(b), err
	}
	body, err := read(srv.URL)
	if err != nil || strings.Count(body, "chunk") != 30 {
		t.Fatalf("a stream longer than Silence broke off: %d chunks, %v", strings.Count(body, "chunk"), err)
	}
	body, err = read(srv.URL + "?stall")
	if err == nil || strings.Count(body, "chunk") != 30 {
		t.Fatalf("a stalled stream: %d chunks, err %v; want all chunks, then an error", strings.Count(body, "chunk"), err)
	}
}

// An answer over MaxBody fails the call and says so; a redirect is
// answered, not followed; a call past its deadline is a DeadlineExceeded.
func TestBoundsOfACall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 2048))
		case "/moved":
			http.Redirect(w, r, "/big", http.StatusFound)
		case "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	c := httpclient.New(httpclient.Options{MaxBody: 1024})
	get := func(ctx context.Context, path string) (*fasthttp.Response, error) {
		req, resp := new(fasthttp.Request), new(fasthttp.Response)
		req.SetRequestURI(srv.URL + path)
		return resp, c.Do(ctx, req, resp)
	}
	if _, err := get(context.Background(), "/big"); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("2 KiB answer with MaxBody 1 KiB: %v", err)
	}
	if resp, err := get(context.Background(), "/moved"); err != nil || resp.StatusCode() != http.StatusFound {
		t.Errorf("redirect: %v, status %d; want the 302 itself", err, resp.StatusCode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := get(ctx, "/slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server: %v, want a context.DeadlineExceeded", err)
	}
}
