package session

import (
	"sync"
	"time"
)

// cache is a TTL cache of verification answers with per-key call
// coalescing (a small singleflight). Size is bounded: when full, expired
// entries go first, then the ones closest to expiry.
type cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	calls   map[string]*call
	max     int
	now     func() time.Time
}

type cacheEntry struct {
	sess    *Session
	err     error
	expires time.Time
	id      string // session id, for Invalidate
}

type call struct {
	done chan struct{}
	sess *Session
	err  error
}

func newCache(max int) *cache {
	if max <= 0 {
		max = 100_000
	}
	return &cache{entries: make(map[string]cacheEntry), calls: make(map[string]*call), max: max, now: time.Now}
}

// get returns a cached answer for key.
func (c *cache) get(key string) (*Session, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, nil, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, key)
		return nil, nil, false
	}
	return e.sess, e.err, true
}

// do runs fn once per key at a time; concurrent callers with the same key
// wait for the running call and share its answer. shared reports whether
// this caller waited for another's call.
func (c *cache) do(key string, fn func() (*Session, error)) (sess *Session, err error, shared bool) {
	c.mu.Lock()
	if cl, ok := c.calls[key]; ok {
		c.mu.Unlock()
		<-cl.done
		return cl.sess, cl.err, true
	}
	cl := &call{done: make(chan struct{})}
	c.calls[key] = cl
	c.mu.Unlock()

	defer func() {
		c.mu.Lock()
		delete(c.calls, key)
		c.mu.Unlock()
		close(cl.done)
	}()
	cl.sess, cl.err = fn()
	return cl.sess, cl.err, false
}

// put stores an answer until expires.
func (c *cache) put(key, id string, sess *Session, err error, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = cacheEntry{sess: sess, err: err, expires: now.Add(ttl), id: id}
}

// evict frees at least a tenth of the cache.
func (c *cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	target := c.max - c.max/10
	for k := range c.entries { // map order is random: a random sample goes
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, k)
	}
}

// invalidate drops every entry of a session id.
func (c *cache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.id == id {
			delete(c.entries, k)
		}
	}
}

// len returns the number of entries (tests, metrics).
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
