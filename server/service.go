package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgews/edgews/server/pathfilter"
	"github.com/edgews/edgews/server/session"
)

// ErrInvalidTarget is wrapped by service calls with a bad target.
var ErrInvalidTarget = errors.New("server: invalid target")

// Target selects sockets: those of User in Context whose path matches Path.
type Target struct {
	Context string
	User    string
	// Path is a path filter ("/ws", "/socket.io/*", "*"); empty means every path.
	Path string
	// Local restricts the call to this node. Without it, calls on a
	// clustered node cover the whole cluster.
	Local bool
}

func (t Target) filter() (pathfilter.Filter, error) {
	if t.Context == "" || t.User == "" {
		return pathfilter.Filter{}, fmt.Errorf("%w: context and user are required", ErrInvalidTarget)
	}
	if t.Path == "" {
		return pathfilter.All, nil
	}
	f, err := pathfilter.Parse(t.Path)
	if err != nil {
		return pathfilter.Filter{}, fmt.Errorf("%w: %w", ErrInvalidTarget, err)
	}
	return f, nil
}

// ExistsResult answers Exists.
type ExistsResult struct {
	Exists bool `json:"exists"`
	// Sockets counts the matching sockets found. A cluster-wide positive
	// answer returns as soon as one node says yes, so the count may be
	// partial there (Complete false).
	Sockets  int  `json:"sockets"`
	Complete bool `json:"complete"`
}

// Exists reports whether the user has an open socket matching the target.
// On a clustered node (unless t.Local) it answers for the whole cluster: a
// local socket answers at once (Complete false: other nodes were not
// asked); otherwise the other nodes are asked and the answer comes as soon
// as one says yes or every live one said no.
func (s *Server) Exists(ctx context.Context, t Target) (ExistsResult, error) {
	f, err := t.filter()
	if err != nil {
		return ExistsResult{}, err
	}
	n := s.reg.count(t.Context, t.User, f)
	if s.cluster == nil || t.Local {
		return ExistsResult{Exists: n > 0, Sockets: n, Complete: true}, nil
	}
	if n > 0 {
		return ExistsResult{Exists: true, Sockets: n, Complete: false}, nil
	}
	return s.existsCluster(ctx, t)
}

// SendResult answers Send.
type SendResult struct {
	// Sockets is the number of local sockets the message was queued for.
	Sockets int `json:"sockets"`
	// Nodes is the number of other cluster nodes it was queued for.
	Nodes int `json:"nodes"`
}

// Send queues m for every socket matching the target, on every node of the
// cluster unless t.Local. It never blocks on the network; a socket whose
// queue cannot take the message is handled by limits.on_queue_full, and a
// node whose remote queue is full drops it; both are counted.
func (s *Server) Send(ctx context.Context, t Target, m Message) (SendResult, error) {
	f, err := t.filter()
	if err != nil {
		return SendResult{}, err
	}
	if m.Type != TextMessage && m.Type != BinaryMessage {
		return SendResult{}, fmt.Errorf("%w: message type %d", ErrInvalidTarget, m.Type)
	}
	data := append([]byte(nil), m.Data...) // shared by every socket and node from here on
	res := SendResult{Sockets: s.sendShared(t.Context, t.User, f, m.Type, data)}
	if s.cluster != nil && !t.Local {
		nodes, err := s.sendCluster(ctx, t, Message{Type: m.Type, Data: data})
		res.Nodes = nodes
		if err != nil {
			s.log.Warn("send: not queued for every node", "error", err)
		}
	}
	return res, nil
}

// sendShared queues data (which it may keep) on the matching local sockets
// and returns how many took it.
func (s *Server) sendShared(context, user string, f pathfilter.Filter, t MessageType, data []byte) int {
	n := 0
	for _, sock := range s.reg.userSockets(context, user, f) {
		if s.outbound(sock, t, data, true) == nil {
			n++
		}
	}
	return n
}

// CloseSession closes every socket bound to the session (close 4401), on
// every node unless local, and tells a caching verifier to forget it. It
// returns how many sockets it closed.
func (s *Server) CloseSession(ctx context.Context, id string, local bool) (int, error) {
	if id == "" {
		return 0, fmt.Errorf("%w: session id is required", ErrInvalidTarget)
	}
	n := s.closeSessionLocal(id)
	if s.cluster != nil && !local {
		m, err := s.cluster.CloseSession(ctx, id)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Server) closeSessionLocal(id string) int {
	if inv, ok := s.verifier().(session.Invalidator); ok {
		inv.Invalidate(id)
	}
	socks := s.reg.sessionSockets(id)
	for _, sock := range socks {
		sock.closeWith(CloseSessionEnded, "session invalidated", "session_invalidated")
	}
	if len(socks) > 0 {
		s.log.Info("session invalidated", "session", id, "sockets", len(socks))
	}
	return len(socks)
}

// SocketInfo describes an open socket (for listings).
type SocketInfo struct {
	ID          string `json:"id"`
	Session     string `json:"session"`
	User        string `json:"user"`
	Context     string `json:"context"`
	Path        string `json:"path"`
	Query       string `json:"query,omitempty"`
	RemoteAddr  string `json:"remote_addr"`
	ConnectedAt string `json:"connected_at"`
	Subprotocol string `json:"subprotocol,omitempty"`
	Compressed  bool   `json:"compressed,omitempty"`
}

// Sockets lists this node's sockets of a user matching the target.
func (s *Server) Sockets(t Target) ([]SocketInfo, error) {
	f, err := t.filter()
	if err != nil {
		return nil, err
	}
	socks := s.reg.userSockets(t.Context, t.User, f)
	out := make([]SocketInfo, 0, len(socks))
	for _, sock := range socks {
		out = append(out, SocketInfo{
			ID: sock.id, Session: sock.sess.id, User: sock.sess.user, Context: sock.sess.context,
			Path: sock.path, Query: sock.rawQuery, RemoteAddr: sock.remote,
			ConnectedAt: sock.ConnectedAt().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			Subprotocol: sock.subprotocol, Compressed: sock.Compressed(),
		})
	}
	return out, nil
}

// Cascade returns the cascade's decision for a user; sets are context sets
// the session names (its context_set_attribute).
func (s *Server) Cascade(context, user string, sets []string) CascadeDecision {
	return s.cascade.decide(context, user, sets)
}

// SetCascade sets or clears a runtime override and closes open sockets of
// users it disables. It returns how many sockets were closed.
func (s *Server) SetCascade(ch CascadeChange) (int, error) {
	if err := s.cascade.apply(ch); err != nil {
		return 0, err
	}
	s.log.Info("cascade override changed", "scope", ch.Scope, "context_set", ch.ContextSet,
		"context", ch.Context, "user", ch.User, "enabled", ch.Enabled)
	return s.enforceCascade(), nil
}
