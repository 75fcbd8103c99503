package server

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/edgews/edgews/server/pathfilter"
	"github.com/edgews/edgews/server/session"
)

const shardCount = 64

// registry indexes open sockets by user and by session. Lookups for one
// user or session touch one shard; nothing takes a global lock.
type registry struct {
	seed     maphash.Seed
	users    [shardCount]userShard
	sessions [shardCount]sessionShard
	total    atomic.Int64
}

type userShard struct {
	mu    sync.RWMutex
	users map[userKey][]*Socket
}

type sessionShard struct {
	mu       sync.RWMutex
	sessions map[string]*sessionEntry
}

type userKey struct{ context, user string }

// sessionEntry is what sockets of one session share. Fields other than id
// are guarded by the session's shard lock.
type sessionEntry struct {
	id, user, context string
	attrs             map[string]string
	sets              []string // context sets named by the session's attribute
	expires           int64    // unix nanoseconds, 0: none
	req               *session.Request
	lastVerified      int64
	sockets           []*Socket
	reverifying       atomic.Bool
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed()}
	for i := range r.users {
		r.users[i].users = make(map[userKey][]*Socket)
		r.sessions[i].sessions = make(map[string]*sessionEntry)
	}
	return r
}

func (r *registry) userShard(k userKey) *userShard {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(k.context)
	h.WriteByte(0)
	h.WriteString(k.user)
	return &r.users[h.Sum64()%shardCount]
}

func (r *registry) sessionShard(id string) *sessionShard {
	return &r.sessions[maphash.String(r.seed, id)%shardCount]
}

// mu returns the lock guarding a session entry's mutable fields.
func (r *registry) mu(sessionID string) *sync.RWMutex { return &r.sessionShard(sessionID).mu }

// add binds s to its verified session (creating the session entry or
// refreshing it with this latest verification) and registers it. With
// maxPerUser > 0 it returns the user's sockets beyond the limit, oldest
// first, for the caller to close (closeOldest), or refuses the new socket
// (ok false) when closeOldest is false.
func (r *registry) add(s *Socket, v *session.Session, req *session.Request, setAttr string, now int64, maxPerUser int, closeOldest bool) (evict []*Socket, ok bool) {
	sh := r.sessionShard(v.ID)
	sh.mu.Lock()
	e, found := sh.sessions[v.ID]
	if !found || e.user != v.User || e.context != v.Context {
		// New session, or the same id now names someone else: the old
		// sockets keep their entry, new ones get a fresh one.
		e = &sessionEntry{id: v.ID, user: v.User, context: v.Context}
		sh.sessions[v.ID] = e
	}
	e.attrs = v.Attributes
	e.sets = splitComma(v.Attributes[setAttr])
	e.expires = 0
	if !v.Expires.IsZero() {
		e.expires = v.Expires.UnixNano()
	}
	if req != nil {
		e.req = req
	}
	e.lastVerified = now
	e.sockets = append(e.sockets, s)
	s.sess = e
	sh.mu.Unlock()

	k := userKey{e.context, e.user}
	us := r.userShard(k)
	us.mu.Lock()
	list := us.users[k]
	if maxPerUser > 0 && len(list) >= maxPerUser {
		if !closeOldest {
			us.mu.Unlock()
			r.unbind(s)
			return nil, false
		}
		evict = slices.Clone(list[:len(list)-maxPerUser+1])
	}
	us.users[k] = append(list, s)
	us.mu.Unlock()
	r.total.Add(1)
	return evict, true
}

// unbind removes s from its session entry.
func (r *registry) unbind(s *Socket) {
	e := s.sess
	sh := r.sessionShard(e.id)
	sh.mu.Lock()
	if j := slices.Index(e.sockets, s); j >= 0 {
		e.sockets = slices.Delete(e.sockets, j, j+1)
	}
	if len(e.sockets) == 0 && sh.sessions[e.id] == e {
		delete(sh.sessions, e.id)
	}
	sh.mu.Unlock()
}

// remove unregisters a socket; it is idempotent.
func (r *registry) remove(s *Socket) bool {
	if s.sess == nil {
		return false // refused before it was registered
	}
	k := userKey{s.sess.context, s.sess.user}
	us := r.userShard(k)
	us.mu.Lock()
	list := us.users[k]
	i := slices.Index(list, s)
	if i < 0 {
		us.mu.Unlock()
		return false
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(us.users, k)
	} else {
		us.users[k] = list
	}
	us.mu.Unlock()
	r.unbind(s)
	r.total.Add(-1)
	return true
}

// userSockets returns the user's sockets whose path matches f.
func (r *registry) userSockets(context, user string, f pathfilter.Filter) []*Socket {
	k := userKey{context, user}
	us := r.userShard(k)
	us.mu.RLock()
	defer us.mu.RUnlock()
	var out []*Socket
	for _, s := range us.users[k] {
		if f.Match(s.path) {
			out = append(out, s)
		}
	}
	return out
}

// count returns how many of the user's sockets match f.
func (r *registry) count(context, user string, f pathfilter.Filter) int {
	k := userKey{context, user}
	us := r.userShard(k)
	us.mu.RLock()
	defer us.mu.RUnlock()
	n := 0
	for _, s := range us.users[k] {
		if f.Match(s.path) {
			n++
		}
	}
	return n
}

// sessionSockets returns the sockets bound to a session id.
func (r *registry) sessionSockets(id string) []*Socket {
	sh := r.sessionShard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if e, ok := sh.sessions[id]; ok {
		return slices.Clone(e.sockets)
	}
	return nil
}

// each calls f for every socket (on a per-shard snapshot, without locks held).
func (r *registry) each(f func(*Socket)) {
	var buf []*Socket
	for i := range r.users {
		us := &r.users[i]
		buf = buf[:0]
		us.mu.RLock()
		for _, list := range us.users {
			buf = append(buf, list...)
		}
		us.mu.RUnlock()
		for _, s := range buf {
			f(s)
		}
	}
}

// eachSession calls f for every session entry (snapshot per shard).
func (r *registry) eachSession(f func(*sessionEntry)) {
	var buf []*sessionEntry
	for i := range r.sessions {
		sh := &r.sessions[i]
		buf = buf[:0]
		sh.mu.RLock()
		for _, e := range sh.sessions {
			buf = append(buf, e)
		}
		sh.mu.RUnlock()
		for _, e := range buf {
			f(e)
		}
	}
}

// counts returns the numbers of sessions and users with open sockets.
func (r *registry) counts() (sessions, users int) {
	for i := range r.sessions {
		r.sessions[i].mu.RLock()
		sessions += len(r.sessions[i].sessions)
		r.sessions[i].mu.RUnlock()
		r.users[i].mu.RLock()
		users += len(r.users[i].users)
		r.users[i].mu.RUnlock()
	}
	return sessions, users
}
