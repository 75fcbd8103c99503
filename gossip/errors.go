package gossip

import "errors"

// Sentinel errors. Functions wrap them once with %w and add detail; test with
// errors.Is.
var (
	// ErrConfig reports an invalid Config; the message names the field.
	ErrConfig = errors.New("gossip: invalid config")
	// ErrNotStarted is returned by cluster operations before Start.
	ErrNotStarted = errors.New("gossip: node not started")
	// ErrClosed is returned after Leave or Shutdown.
	ErrClosed = errors.New("gossip: node closed")
	// ErrMessageTooLarge is returned by Send for a payload above
	// Config.MaxMessageSize or a context, user or path above MaxFieldSize.
	ErrMessageTooLarge = errors.New("gossip: message too large")
	// ErrQueryTooLarge is returned by Exists when the query does not fit
	// into one gossip packet (see MaxExistsQuerySize).
	ErrQueryTooLarge = errors.New("gossip: exists query too large")
	// ErrQueueFull is returned by Send when the message was dropped for at
	// least one destination because that destination's queue was full. The
	// count Send returns says for how many destinations it was queued.
	ErrQueueFull = errors.New("gossip: remote queue full")
	// ErrIncomplete is returned by CloseSession when not every live member
	// answered; the count covers those that did.
	ErrIncomplete = errors.New("gossip: not every member answered")
	// ErrJoin is returned by Join when no given address could be joined.
	ErrJoin = errors.New("gossip: join failed")
)
