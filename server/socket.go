package server

import (
	"net/url"
	"sync"
	"time"

	"github.com/edgews/edgews/server/internal/wsconn"
	"github.com/edgews/edgews/server/internal/wsproto"
)

// MessageType is the type of a WebSocket data message.
type MessageType uint8

// Message types.
const (
	TextMessage   MessageType = MessageType(wsproto.OpText)
	BinaryMessage MessageType = MessageType(wsproto.OpBinary)
)

func (t MessageType) String() string {
	if t == BinaryMessage {
		return "binary"
	}
	return "text"
}

// Message is a data message. In listener callbacks Data is only valid
// during the call; copy it to keep it.
type Message struct {
	Type MessageType
	Data []byte
}

// Close codes edgews uses beyond RFC 6455's (documented in docs/close-codes.md).
const (
	// CloseSessionEnded: the socket's session expired, was invalidated
	// through the admin API, or failed re-verification.
	CloseSessionEnded uint16 = 4401
	// CloseDisabled: the config cascade now disables this user.
	CloseDisabled uint16 = 4403
)

// Socket is one accepted WebSocket, bound to its session's user and context.
// Its methods are safe for concurrent use.
type Socket struct {
	id          string
	sess        *sessionEntry
	route       *route
	path        string
	rawQuery    string
	remote      string
	connected   int64 // unix nanoseconds
	subprotocol string
	conn        *wsconn.Conn
	srv         *Server
	attrs       Attributes
	tmu         sync.Mutex // serializes transcoder calls for this socket
	announced   bool       // listeners saw OnConnect (set before reading starts)
	// Guarded by tmu: timers the transcoder armed.
	timers        []socketTimer
	timersStopped bool

	// Batching of a read round's messages (transcoder routes; batch.go).
	pendingIn  *msgBatch  // read path only
	pmu        sync.Mutex // guards inRound, pendingOut and closeAsked
	inRound    bool
	pendingOut *msgBatch
	// closeAsked is a transcoder's close request made during a read
	// round, applied when the round ends: the replies to the messages
	// before it go out first.
	closeAsked *pendingClose
}

// ID returns the socket's id, unique in the cluster.
func (s *Socket) ID() string { return s.id }

// SessionID returns the id of the session the socket is bound to.
func (s *Socket) SessionID() string { return s.sess.id }

// User returns the session's user.
func (s *Socket) User() string { return s.sess.user }

// Context returns the session's context (tenant).
func (s *Socket) Context() string { return s.sess.context }

// SessionAttribute returns an attribute the verifier attached to the session.
func (s *Socket) SessionAttribute(key string) (string, bool) {
	s.srv.reg.mu(s.sess.id).RLock()
	defer s.srv.reg.mu(s.sess.id).RUnlock()
	v, ok := s.sess.attrs[key]
	return v, ok
}

// Path returns the request path the socket was opened on.
func (s *Socket) Path() string { return s.path }

// RawQuery returns the upgrade request's query string.
func (s *Socket) RawQuery() string { return s.rawQuery }

// Query returns the upgrade request's URL query parameters (a fresh copy).
func (s *Socket) Query() url.Values {
	v, _ := url.ParseQuery(s.rawQuery)
	return v
}

// RemoteAddr returns the browser's address (host:port).
func (s *Socket) RemoteAddr() string { return s.remote }

// ConnectedAt returns when the socket was accepted.
func (s *Socket) ConnectedAt() time.Time { return time.Unix(0, s.connected) }

// Subprotocol returns the negotiated subprotocol ("" if none).
func (s *Socket) Subprotocol() string { return s.subprotocol }

// Compressed reports whether permessage-deflate was negotiated.
func (s *Socket) Compressed() bool { return s.conn.Compressed() }

// Attributes returns the socket's attribute store.
func (s *Socket) Attributes() *Attributes { return &s.attrs }

// Send queues a message to the browser, through the route's transcoder if
// it has one. It never blocks on the network; data is copied.
func (s *Socket) Send(m Message) error { return s.srv.outbound(s, m.Type, m.Data, false) }

// SendText is Send for a text message.
func (s *Socket) SendText(text string) error {
	return s.srv.outbound(s, TextMessage, []byte(text), true)
}

// Close starts the close handshake with code and reason.
func (s *Socket) Close(code uint16, reason string) {
	s.conn.CloseWith(code, reason, "server")
}

func (s *Socket) closeWith(code uint16, reason, cause string) {
	s.conn.CloseWith(code, reason, cause)
}

// Attributes is a socket's concurrency-safe key/value store. Listeners use
// it to keep per-socket state; transcoders keep theirs here too, so any
// transcoder instance can serve any socket.
type Attributes struct {
	mu sync.Mutex
	m  map[string]any
}

// Get returns the value for key.
func (a *Attributes) Get(key string) (any, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.m[key]
	return v, ok
}

// Set stores value under key.
func (a *Attributes) Set(key string, value any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[string]any, 4)
	}
	a.m[key] = value
}

// Delete removes key.
func (a *Attributes) Delete(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, key)
}

// Len returns the number of attributes.
func (a *Attributes) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

// Range calls f for every attribute (on a snapshot) until f returns false.
func (a *Attributes) Range(f func(key string, value any) bool) {
	a.mu.Lock()
	snap := make(map[string]any, len(a.m))
	for k, v := range a.m {
		snap[k] = v
	}
	a.mu.Unlock()
	for k, v := range snap {
		if !f(k, v) {
			return
		}
	}
}

// socketHandler adapts a Socket to wsconn.Handler without exporting the
// callbacks on Socket.
type socketHandler Socket

func (h *socketHandler) OnMessage(_ *wsconn.Conn, op byte, data []byte) {
	s := (*Socket)(h)
	s.srv.inbound(s, MessageType(op), data)
}

func (h *socketHandler) OnReadEnd(*wsconn.Conn) {
	s := (*Socket)(h)
	if s.route.transcoder != nil {
		s.srv.endRound(s)
	}
}

func (h *socketHandler) OnClose(_ *wsconn.Conn, code uint16, reason, cause string) {
	s := (*Socket)(h)
	s.srv.socketClosed(s, code, reason, cause)
}
