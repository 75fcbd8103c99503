package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"sync"
	"time"
)

// newSerfLogger returns a *log.Logger for serf and memberlist that routes
// their printf-style lines into logger. Both libraries prefix each line with
// a level in brackets and their own name ("[WARN] memberlist: ..."); the
// adapter turns the level into a slog level and the name into a "component"
// attribute.
func newSerfLogger(logger *slog.Logger) *log.Logger {
	return log.New(&serfLogWriter{log: logger}, "", 0)
}

type serfLogWriter struct {
	log *slog.Logger
}

func (w *serfLogWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		level, component, msg := parseSerfLine(line)
		if len(msg) == 0 || !w.log.Enabled(context.Background(), level) {
			continue
		}
		if component != "" {
			w.log.Log(context.Background(), level, string(msg), slog.String("component", component))
		} else {
			w.log.Log(context.Background(), level, string(msg))
		}
	}
	return len(p), nil
}

// parseSerfLine splits "[LEVEL] component: message". Lines without a level
// are logged at Info; unknown levels too.
func parseSerfLine(line []byte) (slog.Level, string, []byte) {
	line = bytes.TrimSpace(line)
	level := slog.LevelInfo
	if len(line) > 0 && line[0] == '[' {
		if end := bytes.IndexByte(line, ']'); end > 0 {
			switch string(line[1:end]) {
			case "TRACE", "DEBUG":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN", "WARNING":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			line = bytes.TrimSpace(line[end+1:])
		}
	}
	for _, c := range [...]string{"memberlist", "serf"} {
		if rest, ok := bytes.CutPrefix(line, []byte(c+": ")); ok {
			return level, c, rest
		}
	}
	return level, "", line
}

// rateLimiter lets one log line per key through per interval and counts
// what it held back, so repeated problems (a full queue, a peer that keeps
// refusing) are visible without flooding the log.
type rateLimiter struct {
	every time.Duration

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newRateLimiter(every time.Duration) *rateLimiter {
	return &rateLimiter{every: every, last: make(map[string]time.Time), suppressed: make(map[string]int)}
}

// allow reports whether a line for key may be logged now and how many were
// suppressed since the last one.
func (r *rateLimiter) allow(key string, now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[key]; ok && now.Sub(t) < r.every {
		r.suppressed[key]++
		return false, 0
	}
	if len(r.last) > 4096 { // keys come from member names; keep it bounded anyway
		clear(r.last)
		clear(r.suppressed)
	}
	n := r.suppressed[key]
	delete(r.suppressed, key)
	r.last[key] = now
	return true, n
}

// warnLimited logs at warn level at most once per interval per key.
func (n *Node) warnLimited(key, msg string, args ...any) {
	ok, suppressed := n.limiter.allow(key, time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, slog.Int("suppressed", suppressed))
	}
	n.log.Warn(msg, args...)
}
