package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edgews/edgews/wasmhost/abi"
)

func guestLevel(l uint32) slog.Level {
	switch l {
	case abi.LogDebug:
		return slog.LevelDebug
	case abi.LogWarn:
		return slog.LevelWarn
	case abi.LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// lineLimiter writes guest log lines to the module's logger, at most
// perSecond of them per second; the rest are counted and reported once the
// second is over, so a guest cannot flood the server's log.
type lineLimiter struct {
	log       *slog.Logger
	perSecond int

	mu      sync.Mutex
	window  time.Time
	count   int
	dropped int
}

func newLineLimiter(log *slog.Logger, perSecond int) *lineLimiter {
	return &lineLimiter{log: log, perSecond: perSecond}
}

func (l *lineLimiter) line(level slog.Level, stream string, msg []byte) {
	if len(msg) > abi.MaxLogMessage {
		msg = msg[:abi.MaxLogMessage]
	}
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.window) >= time.Second {
		if l.dropped > 0 {
			l.log.Warn("guest log lines dropped", "count", l.dropped)
		}
		l.window, l.count, l.dropped = now, 0, 0
	}
	if l.count >= l.perSecond {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.count++
	l.mu.Unlock()
	l.log.LogAttrs(context.Background(), level, "guest: "+string(msg), slog.String("stream", stream))
}

// flush reports lines dropped in the current second.
func (l *lineLimiter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		l.log.Warn("guest log lines dropped", "count", l.dropped)
		l.dropped = 0
	}
}

// lineBuffer collects a stream's bytes into lines of at most
// abi.MaxLogMessage bytes.
type lineBuffer struct {
	buf []byte
}

func (b *lineBuffer) write(l *lineLimiter, stream string, p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		room := abi.MaxLogMessage - len(b.buf)
		if len(chunk) >= room {
			b.buf = append(b.buf, chunk[:room]...)
			b.flush(l, stream)
			p = p[room:]
			continue
		}
		b.buf = append(b.buf, chunk...)
		if i < 0 {
			return
		}
		b.flush(l, stream)
		p = p[i+1:]
	}
}

func (b *lineBuffer) flush(l *lineLimiter, stream string) {
	if len(b.buf) == 0 {
		return
	}
	level := slog.LevelInfo
	if stream == "stderr" {
		level = slog.LevelWarn
	}
	l.line(level, stream, b.buf)
	b.buf = b.buf[:0]
}
