package server

import (
	"sync/atomic"
	"time"
)

// logLimiter lets through at most perSecond log lines per second and
// counts the ones it holds back, so a flood of bad requests cannot flood
// the log (the metrics still count every one).
type logLimiter struct {
	perSecond  int64
	window     atomic.Int64 // unix second of the current window
	count      atomic.Int64
	suppressed atomic.Uint64
}

func newLogLimiter(perSecond int64) *logLimiter { return &logLimiter{perSecond: perSecond} }

func (l *logLimiter) allow() bool {
	now := time.Now().Unix()
	if w := l.window.Load(); w != now && l.window.CompareAndSwap(w, now) {
		l.count.Store(0)
	}
	if l.count.Add(1) <= l.perSecond {
		return true
	}
	l.suppressed.Add(1)
	return false
}

// takeSuppressed returns and resets the number of lines held back.
func (l *logLimiter) takeSuppressed() uint64 { return l.suppressed.Swap(0) }
