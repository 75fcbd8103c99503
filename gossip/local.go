package gossip

import (
	"context"
	"encoding/json"
)

// Local is this node's own socket service as the cluster layer sees it. The
// server implements it; gossip calls it when another member asks.
//
// All methods must be safe for concurrent use and fast: Count runs while a
// remote Exists waits for the answer, Deliver runs on the receiving side of
// the payload path for every message of a batch, one message after another
// (that is what keeps the order). The context carries the deadline of the
// remote request where there is one, and is cancelled when the Node shuts
// down; Node.Shutdown waits for calls in progress to return.
type Local interface {
	// Count returns how many local sockets match q.
	Count(ctx context.Context, q Query) (int, error)
	// Deliver sends m to every local socket matching its target and returns
	// how many. gossip does not modify m.Data afterwards; the
	// implementation may keep it. m.Data shares memory with the other
	// messages of its batch (up to Config.MaxBatchBytes): an
	// implementation that keeps a small message for long (a slow socket's
	// send queue) should copy it, or it keeps the whole batch alive.
	Deliver(ctx context.Context, m Message) (int, error)
	// CloseSession closes the local sockets bound to a session and returns
	// how many.
	CloseSession(ctx context.Context, sessionID string) (int, error)
	// Stats returns this node's statistics as a JSON value. gossip does not
	// look inside; the server sums what the members return.
	Stats(ctx context.Context) (json.RawMessage, error)
}

// Query selects sockets: those of User in Context whose path matches the
// filter Path. The filter text is validated by the node that accepted the
// request; gossip carries it as it is.
type Query struct {
	Context string
	User    string
	Path    string
}

// Message is a message for the sockets Query-selected by Context, User and
// Path.
type Message struct {
	Context string
	User    string
	Path    string
	Binary  bool
	Data    []byte
}
