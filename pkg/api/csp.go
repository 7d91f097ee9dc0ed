package api

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
)

// basePolicy is the Content-Security-Policy of every response. Our own UI has
// no inline script, so its pages get exactly this policy.
const basePolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'self'; object-src 'none'; base-uri 'self'"

// inlineScript matches a <script> element without a src attribute. A script's
// text ends at the first "</script", which is how the HTML parser reads it too.
var (
	scriptElement = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script`)
	srcAttribute  = regexp.MustCompile(`(?i)\ssrc\s*=`)
	// Vite's modern-browser check imports a data: URL from an inline module.
	dataImport = regexp.MustCompile(`\bimport\s*\(?\s*['"]data:text/javascript`)
)

// pagePolicy widens basePolicy for one HTML page by what the page itself
// proves it needs, so a UI directory the user supplies (LightNVR's own, for
// one) runs without opening script-src to every inline script: each inline
// script is allowed by its sha256, and data: only when one of them imports a
// data: module. A page with no inline script gets basePolicy unchanged.
func pagePolicy(page []byte) string {
	var hashes []string
	needData := false
	for _, m := range scriptElement.FindAllSubmatch(page, -1) {
		attrs, body := m[1], m[2]
		if srcAttribute.Match(attrs) {
			continue
		}
		sum := sha256.Sum256(body)
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		if dataImport.Match(body) {
			needData = true
		}
	}
	if len(hashes) == 0 {
		return basePolicy
	}
	src := "script-src 'self'"
	if needData {
		src += " data:"
	}
	src += " " + strings.Join(hashes, " ")
	return strings.Replace(basePolicy, "script-src 'self'", src, 1)
}
