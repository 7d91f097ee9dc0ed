package logx

import (
	"fmt"
	"log/slog"
	"log/syslog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

var facilities = map[string]syslog.Priority{
	"KERN": syslog.LOG_KERN, "USER": syslog.LOG_USER, "MAIL": syslog.LOG_MAIL,
	"DAEMON": syslog.LOG_DAEMON, "AUTH": syslog.LOG_AUTH, "SYSLOG": syslog.LOG_SYSLOG,
	"LPR": syslog.LOG_LPR, "NEWS": syslog.LOG_NEWS, "UUCP": syslog.LOG_UUCP,
	"CRON": syslog.LOG_CRON, "AUTHPRIV": syslog.LOG_AUTHPRIV, "FTP": syslog.LOG_FTP,
	"LOCAL0": syslog.LOG_LOCAL0, "LOCAL1": syslog.LOG_LOCAL1, "LOCAL2": syslog.LOG_LOCAL2,
	"LOCAL3": syslog.LOG_LOCAL3, "LOCAL4": syslog.LOG_LOCAL4, "LOCAL5": syslog.LOG_LOCAL5,
	"LOCAL6": syslog.LOG_LOCAL6, "LOCAL7": syslog.LOG_LOCAL7,
}

// ParseFacility parses LightNVR's syslog_facility: a name such as LOG_USER,
// LOG_DAEMON or LOG_LOCAL0..7 (the LOG_ prefix and case are optional), or a
// number. Like LightNVR, which hands the number to openlog(3), a number is
// the encoded facility value (LOG_LOCAL0 = 128), so it must be a multiple of
// 8. "" means LOG_USER.
func ParseFacility(s string) (syslog.Priority, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return syslog.LOG_USER, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n%8 != 0 || n > int(syslog.LOG_LOCAL7) {
			return 0, fmt.Errorf("syslog facility %d: want a multiple of 8 from 0 to %d", n, int(syslog.LOG_LOCAL7))
		}
		return syslog.Priority(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "LOG_")
	if p, ok := facilities[name]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("unknown syslog facility %q", s)
}

// splitSyslogAddr turns Options.SyslogAddr ("unixgram:/path", "udp:host:514")
// into the network and address for syslog.Dial; "" is the local daemon.
func splitSyslogAddr(addr string) (network, raddr string, err error) {
	if addr == "" {
		return "", "", nil
	}
	network, raddr, ok := strings.Cut(addr, ":")
	if !ok || raddr == "" {
		return "", "", fmt.Errorf("syslog address %q: want network:address, e.g. unixgram:/dev/log or udp:host:514", addr)
	}
	switch network {
	case "unix", "unixgram", "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
		return network, raddr, nil
	}
	return "", "", fmt.Errorf("syslog address %q: unsupported network %q", addr, network)
}

type syslogMsg struct {
	level slog.Level
	text  string
}

// syslogSink writes to syslog from its own goroutine. A datagram write to a
// stalled syslog daemon blocks once the socket buffer is full; the queue
// keeps that from stalling the recorder, and drops (counted) instead.
type syslogSink struct {
	w       *syslog.Writer
	queue   chan syslogMsg
	done    chan struct{}
	dropped atomic.Uint64
	once    sync.Once
	mu      sync.RWMutex // guards closed against sends on a closed queue
	closed  bool
}

const syslogQueue = 512

func newSyslogSink(w *syslog.Writer) *syslogSink {
	s := &syslogSink{w: w, queue: make(chan syslogMsg, syslogQueue), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *syslogSink) run() {
	defer close(s.done)
	for m := range s.queue {
		var err error
		switch {
		case m.level >= slog.LevelError:
			err = s.w.Err(m.text)
		case m.level >= slog.LevelWarn:
			err = s.w.Warning(m.text)
		case m.level >= slog.LevelInfo:
			err = s.w.Info(m.text)
		default:
			err = s.w.Debug(m.text)
		}
		if err != nil {
			// syslog.Writer already redials once; nowhere else to report.
			s.dropped.Add(1)
		}
	}
}

func (s *syslogSink) send(level slog.Level, text string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.queue <- syslogMsg{level, text}:
	default:
		s.dropped.Add(1)
	}
}

// close flushes what is queued and closes the connection.
func (s *syslogSink) close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		<-s.done
		err = s.w.Close()
	})
	return err
}

// syslogText renders a record for syslog, which adds time, host and ident
// itself: the message, then key=value pairs, quoted when needed.
func syslogText(msg string, attrs []kv) string {
	if len(attrs) == 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg)
	for _, a := range attrs {
		b.WriteByte(' ')
		b.WriteString(a.k)
		b.WriteByte('=')
		if needsQuote(a.v) {
			b.WriteString(strconv.Quote(a.v))
		} else {
			b.WriteString(a.v)
		}
	}
	return b.String()
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '=' || c == '"' || c >= 0x7f {
			return true
		}
	}
	return false
}
