package wsproto

import "sync/atomic"

// Budget caps, across every Parser that shares it, the payload bytes held
// for data messages that have not fully arrived: a message spanning
// frames, or a frame spanning reads. Without it each connection may hold
// up to MaxMessage, so many connections that each start a large message
// and never finish it could take all the node's memory between them
// (their read timeout ends each one, but they can be replaced).
//
// A Parser charges the capacity of its message buffer as it grows and
// gives it back when the message completes or the Parser is Reset. When a
// charge would pass the limit the Parser fails with ErrPartialBudget and
// keeps nothing. The zero Budget has no limit but still counts.
type Budget struct {
	limit atomic.Int64
	used  atomic.Int64
}

// ErrPartialBudget is the error of a Parser whose message would take the
// shared Budget past its limit: close 1013 (try again later), since it is
// the node that is short, not the message that is wrong.
var ErrPartialBudget = &CloseError{Code: CloseTryAgainLater, Reason: "server busy: too many partly received messages"}

// SetLimit sets the cap in bytes (0 or less: none). Bytes already held
// stay held; a lower limit refuses new charges until enough are given back.
func (b *Budget) SetLimit(n int64) { b.limit.Store(n) }

// Limit returns the cap (0: none).
func (b *Budget) Limit() int64 { return b.limit.Load() }

// Used returns the bytes held now.
func (b *Budget) Used() int64 { return b.used.Load() }

// take charges n bytes, or reports false and charges nothing.
func (b *Budget) take(n int64) bool {
	lim := b.limit.Load()
	if lim <= 0 {
		b.used.Add(n)
		return true
	}
	for {
		u := b.used.Load()
		if u+n > lim {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *Budget) give(n int64) { b.used.Add(-n) }
