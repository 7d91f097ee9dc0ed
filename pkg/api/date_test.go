package api

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// Responses carry no Date (see newHTTPServer): fasthttp's refresher, a
// goroutine that would wake the process every second for good, must not
// start, whatever the server has answered.
func TestNoDateHeaderNorItsRefresher(t *testing.T) {
	e := newTLSEnv(t, false)
	c := e.client(nil)
	for path, status := range map[string]int{"/api/health": http.StatusOK, "/api/no-such-route": http.StatusNotFound} {
		rs, _ := e.get(c, "http://"+e.addr+path, true)
		if rs.StatusCode != status {
			t.Fatalf("GET %s: status %d, want %d", path, rs.StatusCode, status)
		}
		if d := rs.Header.Values("Date"); len(d) != 0 {
			t.Fatalf("GET %s: Date %q, want none", path, d)
		}
	}
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "fasthttp.updateServerDate") {
		t.Fatal("fasthttp's Date refresher is running: it wakes the process every second")
	}
}
