package server

import (
	"hash/maphash"
	"net"
	"sync"
	"time"
)

// ipLimiter tracks, per client IP, the open sockets and a token bucket of
// upgrades. Entries are created on demand and removed by the sweeper once
// an IP has no socket and a full bucket.
type ipLimiter struct {
	seed   maphash.Seed
	shards [64]ipShard
}

type ipShard struct {
	mu sync.Mutex
	m  map[string]*ipEntry
}

type ipEntry struct {
	sockets int
	tokens  float64
	last    int64 // unix nanoseconds of the last refill
}

func newIPLimiter() *ipLimiter {
	l := &ipLimiter{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*ipEntry)
	}
	return l
}

func (l *ipLimiter) shard(ip string) *ipShard {
	return &l.shards[maphash.String(l.seed, ip)%uint64(len(l.shards))]
}

// hostOf returns the IP of a host:port address.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// allowUpgrade takes a token from ip's bucket (rate per second, burst
// size); rate <= 0 allows everything.
func (l *ipLimiter) allowUpgrade(ip string, rate float64, burst int, now time.Time) bool {
	if rate <= 0 {
		return true
	}
	if burst < 1 {
		burst = 1
	}
	sh := l.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[ip]
	n := now.UnixNano()
	if e == nil {
		e = &ipEntry{tokens: float64(burst), last: n}
		sh.m[ip] = e
	}
	e.tokens = min(float64(burst), e.tokens+rate*float64(n-e.last)/1e9)
	e.last = n
	if e.tokens < 1 {
		return false
	}
	e.tokens--
	return true
}

// sockets returns ip's open sockets.
func (l *ipLimiter) sockets(ip string) int {
	sh := l.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[ip]; e != nil {
		return e.sockets
	}
	return 0
}

// tryAdd counts a socket of ip unless ip already holds max (max <= 0: no
// cap). Check and count are one step, so concurrent upgrades cannot pass a
// cap together.
func (l *ipLimiter) tryAdd(ip string, max int) bool {
	sh := l.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[ip]
	if e == nil {
		e = &ipEntry{tokens: -1, last: time.Now().UnixNano()}
		sh.m[ip] = e
	}
	if max > 0 && e.sockets >= max {
		return false
	}
	e.sockets++
	return true
}

// add counts a socket of ip (delta +1 or -1).
func (l *ipLimiter) add(ip string, delta int) {
	sh := l.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[ip]
	if e == nil {
		if delta < 0 {
			return
		}
		e = &ipEntry{tokens: -1, last: time.Now().UnixNano()}
		sh.m[ip] = e
	}
	e.sockets += delta
}

// sweep drops idle entries: no socket, and untouched for a minute (by then
// any bucket has refilled).
func (l *ipLimiter) sweep(now time.Time) {
	cut := now.Add(-time.Minute).UnixNano()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for ip, e := range sh.m {
			if e.sockets <= 0 && e.last < cut {
				delete(sh.m, ip)
			}
		}
		sh.mu.Unlock()
	}
}

// size returns the number of tracked IPs (tests, metrics).
func (l *ipLimiter) size() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].m)
		l.shards[i].mu.Unlock()
	}
	return n
}
