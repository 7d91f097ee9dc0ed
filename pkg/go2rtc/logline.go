package go2rtc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"lightnvr/pkg/logx"
)

// maxLine bounds one buffered log line; longer output is logged in pieces.
const maxLine = 8 << 10

// lineLogger turns go2rtc's output into our log records. go2rtc writes JSON
// lines (our go2rtc.yaml asks for them); anything else (a panic, a script in
// place of the binary) is logged as plain text. Every value passes through
// RedactURL: go2rtc logs source URLs, and those carry camera passwords.
type lineLogger struct {
	log *slog.Logger

	mu   sync.Mutex
	buf  []byte
	last string
	// configErr is the first YAML error go2rtc logged for its config files.
	configErr string
	// stopping: we asked go2rtc to exit, and it says so in plain text
	// ("exit with signal: terminated"), which is no warning then.
	stopping atomic.Bool
}

func newLineLogger(log *slog.Logger) *lineLogger { return &lineLogger{log: log} }

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			if len(l.buf) > maxLine {
				l.emit(l.buf)
				l.buf = l.buf[:0]
			}
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) == 0 {
		l.buf = nil // let a burst's buffer go
	}
	return len(p), nil
}

// Flush logs a trailing line without newline.
func (l *lineLogger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

// ConfigError is the first YAML error go2rtc reported for its config files
// ("" when none). go2rtc logs it and runs on without the part it could not
// read, so this is the only sign it refused a file.
func (l *lineLogger) ConfigError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.configErr
}

// Last is the last line go2rtc wrote, redacted; it explains a crash.
func (l *lineLogger) Last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

func (l *lineLogger) emit(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var rec map[string]any
	if line[0] != '{' || json.Unmarshal(line, &rec) != nil {
		text := logx.RedactURL(string(line))
		l.last = text
		level := slog.LevelWarn
		if l.stopping.Load() {
			level = slog.LevelInfo
		}
		l.log.Log(context.Background(), level, "go2rtc: "+text)
		return
	}
	level := slog.LevelInfo
	switch fmt.Sprint(rec["level"]) {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	}
	if e, ok := rec["error"].(string); ok && strings.HasPrefix(e, "yaml:") && l.configErr == "" {
		l.configErr = "go2rtc could not read its configuration: " + logx.RedactURL(e)
	}
	msg := logx.RedactURL(fmt.Sprint(rec["message"]))
	delete(rec, "level")
	delete(rec, "message")
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, 2*len(keys))
	var sum strings.Builder
	sum.WriteString(msg)
	for _, k := range keys {
		v := rec[k]
		var s string
		if str, ok := v.(string); ok {
			s = str
		} else {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if logx.IsSecretKey(k) {
			s = logx.Masked
		}
		s = logx.RedactURL(s)
		attrs = append(attrs, slog.String(k, s))
		fmt.Fprintf(&sum, " %s=%s", k, s)
	}
	if level >= slog.LevelWarn {
		l.last = sum.String()
	}
	l.log.Log(context.Background(), level, "go2rtc: "+msg, attrs...)
}
