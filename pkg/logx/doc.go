// Package logx sets up the process logger: one slog.Logger whose records fan
// out to the console (and an optional log file) as text or JSON, to syslog,
// and to an in-memory Ring that the web UI and `lightnvr diag` read.
//
// Every sink sees the same records with the same attributes and groups, and
// all of them share one level threshold. The threshold can be changed at run
// time through the *Handler behind the logger:
//
//	logger, ring, err := logx.New(opts)
//	...
//	logx.HandlerOf(logger).SetLevel(slog.LevelDebug)
//
// Secrets never reach a sink: values of keys such as password or token are
// replaced by "***", and the password part of URLs (rtsp://user:pass@host) is
// masked wherever it appears, including in messages and errors.
package logx
