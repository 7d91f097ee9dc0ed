package main

import (
	"debug/elf"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

// net/http's client (its Transport and the HTTP/2 client bundled with it)
// costs the appliance binary about 600 KB next to fasthttp's, which the
// server links anyway. Every outbound call goes through pkg/httpclient; one
// http.Get, http.Client or http.Transport anywhere in the daemon brings the
// whole of net/http's client back, and this test names it.
func TestOneHTTPClientLinked(t *testing.T) {
	bin := testkit.BuildLightnvr(t, t.TempDir())
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s has no symbol table: %v", bin, err)
	}
	var linked []string
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && netHTTPClient(s.Name) {
			linked = append(linked, s.Name)
		}
	}
	if len(linked) > 0 {
		t.Fatalf("net/http's client is linked into lightnvr (%d functions, e.g. %s); make outbound HTTP calls with pkg/httpclient",
			len(linked), strings.Join(linked[:min(len(linked), 3)], ", "))
	}
}

func netHTTPClient(sym string) bool {
	for _, p := range []string{"net/http.(*Transport).", "net/http.(*Client).", "net/http.(*http2Transport).", "net/http.(*http2ClientConn)."} {
		if strings.HasPrefix(sym, p) {
			return true
		}
	}
	return false
}
