package logx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
	"time"
)

// Options configures New. The zero value logs text at INFO to stderr and
// keeps a DefaultRingBytes ring.
type Options struct {
	// Level is the initial threshold for every sink; change it later with
	// (*Handler).SetLevel.
	Level slog.Level
	// Format is "text" (default) or "json"; it applies to Output and File.
	Format string
	// Output is the console; nil means os.Stderr, io.Discard turns it off.
	Output io.Writer
	// File, if set, is appended to (created 0640) in addition to Output.
	// A daemon that logs to File usually sets Output to io.Discard.
	File string
	// Syslog also sends records to syslog, tagged SyslogIdent (default
	// "lightnvr") with SyslogFacility (see ParseFacility).
	Syslog         bool
	SyslogIdent    string
	SyslogFacility string
	// SyslogAddr is "network:address" ("unixgram:/dev/log", "udp:host:514");
	// "" is the local syslog daemon.
	SyslogAddr string
	// RingBytes is the byte budget of the in-memory ring; 0 means
	// DefaultRingBytes.
	RingBytes int
}

// New builds the logger described by opts and the ring it feeds. A bad
// option or an unopenable log file is an error; an unreachable syslog is
// not: the logger then warns once and logs without it.
func New(opts Options) (*slog.Logger, *Ring, error) {
	var jsonFmt bool
	switch strings.ToLower(opts.Format) {
	case "", "text":
	case "json":
		jsonFmt = true
	default:
		return nil, nil, fmt.Errorf("log format %q: want text or json", opts.Format)
	}
	facility, err := ParseFacility(opts.SyslogFacility)
	if err != nil {
		return nil, nil, err
	}
	network, raddr, err := splitSyslogAddr(opts.SyslogAddr)
	if err != nil {
		return nil, nil, err
	}

	c := &core{level: new(slog.LevelVar), ring: NewRing(opts.RingBytes)}
	c.level.Set(opts.Level)

	out := opts.Output
	if out == nil {
		out = os.Stderr
	}
	if out == io.Discard {
		out = nil
	}
	c.out = &sinkWriter{console: out, path: opts.File}
	if opts.File != "" {
		if err := c.out.open(); err != nil {
			return nil, nil, err
		}
	}

	h := &Handler{c: c}
	if c.out.console != nil || c.out.file != nil {
		ho := &slog.HandlerOptions{Level: c.level, ReplaceAttr: Redact}
		if jsonFmt {
			h.text = slog.NewJSONHandler(c.out, ho)
		} else {
			h.text = slog.NewTextHandler(c.out, ho)
		}
	}
	logger := slog.New(h)

	if opts.Syslog {
		ident := opts.SyslogIdent
		if ident == "" {
			ident = "lightnvr"
		}
		w, err := syslog.Dial(network, raddr, facility|syslog.LOG_INFO, ident)
		if err != nil {
			where := opts.SyslogAddr
			if where == "" {
				where = "local"
			}
			logger.Warn("syslog unavailable, logging without it", "addr", where, "err", err)
		} else {
			c.sys = newSyslogSink(w)
		}
	}
	return logger, c.ring, nil
}

// core is what all handlers derived from one New share.
type core struct {
	level *slog.LevelVar
	out   *sinkWriter
	sys   *syslogSink // nil without syslog
	ring  *Ring
}

// Handler is the fan-out slog.Handler behind loggers made by New. Handlers
// derived by WithAttrs and WithGroup share the level and the sinks.
type Handler struct {
	c      *core
	text   slog.Handler // console and file; nil when both are off
	prefix string       // open groups for the flat sinks, "a.b."
	attrs  []kv         // WithAttrs attributes, flattened and redacted
}

// HandlerOf returns the logx handler behind l, or nil if l was not made by
// New.
func HandlerOf(l *slog.Logger) *Handler {
	if l == nil {
		return nil
	}
	h, _ := l.Handler().(*Handler)
	return h
}

// SetLevel changes the threshold of every sink at once, at run time.
func (h *Handler) SetLevel(l slog.Level) { h.c.level.Set(l) }

// Level is the current threshold.
func (h *Handler) Level() slog.Level { return h.c.level.Level() }

// LevelVar exposes the shared threshold, e.g. for other handlers.
func (h *Handler) LevelVar() *slog.LevelVar { return h.c.level }

// Ring is the ring this handler feeds.
func (h *Handler) Ring() *Ring { return h.c.ring }

// SyslogDropped counts records that could not be handed to syslog (queue
// full or write failure).
func (h *Handler) SyslogDropped() uint64 {
	if h.c.sys == nil {
		return 0
	}
	return h.c.sys.dropped.Load()
}

// Reopen reopens the log file, for rotation (SIGHUP after logrotate moved
// it). Without a log file it does nothing.
func (h *Handler) Reopen() error { return h.c.out.reopen() }

// Close flushes syslog and closes the log file and the syslog connection.
// Records logged afterwards still reach the console and the ring.
func (h *Handler) Close() error {
	var errs []error
	if h.c.sys != nil {
		errs = append(errs, h.c.sys.close())
	}
	errs = append(errs, h.c.out.close())
	return errors.Join(errs...)
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.c.level.Level()
}

// Handle implements slog.Handler: the record goes to every sink; the first
// sink error is returned after all were tried.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.text != nil {
		err = h.text.Handle(ctx, r)
	}
	msg := RedactURL(r.Message)
	attrs := make([]kv, len(h.attrs), len(h.attrs)+r.NumAttrs())
	copy(attrs, h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendFlat(attrs, h.prefix, a)
		return true
	})
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	if h.c.sys != nil {
		h.c.sys.send(r.Level, syslogText(msg, attrs))
	}
	h.c.ring.add(t, r.Level, msg, attrs)
	return err
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	if h.text != nil {
		h2.text = h.text.WithAttrs(as)
	}
	h2.attrs = make([]kv, len(h.attrs), len(h.attrs)+len(as))
	copy(h2.attrs, h.attrs)
	for _, a := range as {
		h2.attrs = appendFlat(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	if h.text != nil {
		h2.text = h.text.WithGroup(name)
	}
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendFlat flattens a into key/value strings the way slog's text handler
// names them (groups joined by '.'), applying the same rules: empty attrs and
// empty groups vanish, groups with an empty key are inlined.
func appendFlat(dst []kv, prefix string, a slog.Attr) []kv {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return dst
		}
		if a.Key != "" {
			prefix = prefix + a.Key + "."
		}
		for _, m := range members {
			dst = appendFlat(dst, prefix, m)
		}
		return dst
	}
	if a.Equal(slog.Attr{}) {
		return dst
	}
	a = Redact(nil, a)
	return append(dst, kv{prefix + a.Key, valueString(a.Value)})
}

func valueString(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
	}
	return v.String()
}

// sinkWriter is the io.Writer of the text/JSON handler: console plus the
// optional file, which Reopen can swap under the lock.
type sinkWriter struct {
	mu      sync.Mutex
	console io.Writer
	path    string
	file    *os.File
}

func (w *sinkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	if w.console != nil {
		if _, err := w.console.Write(p); err != nil {
			first = err
		}
	}
	if w.file != nil {
		if _, err := w.file.Write(p); err != nil && first == nil {
			first = err
		}
	}
	return len(p), first
}

func (w *sinkWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file %s: %w", w.path, err)
	}
	w.file = f
	return nil
}

func (w *sinkWriter) reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.path == "" {
		return nil
	}
	old := w.file
	if err := w.open(); err != nil {
		return err
	}
	if old != nil {
		return old.Close()
	}
	return nil
}

func (w *sinkWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	if err != nil {
		return fmt.Errorf("close log file %s: %w", w.path, err)
	}
	return nil
}
