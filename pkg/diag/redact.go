package diag

import (
	"regexp"

	"lightnvr/pkg/logx"
)

// secretParam matches password-like query or key=value pairs in free text.
var secretParam = regexp.MustCompile(`(?i)\b(password|passwd|pass|pwd|secret|token|api_key|apikey)=([^&\s"']+)`)

// redactText masks URL userinfo passwords and password-like key=value pairs, so
// a report can be pasted into a support ticket.
func redactText(s string) string {
	s = logx.RedactURL(s)
	return secretParam.ReplaceAllString(s, "${1}="+logx.Masked)
}
