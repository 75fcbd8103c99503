// Package netpoll drives many mostly idle connections with readiness
// notifications instead of a blocked goroutine per connection.
//
// On Linux a Poller owns an epoll instance (edge-triggered) and a small pool
// of worker goroutines, each with its own read buffer. When a registered
// file descriptor becomes readable, a worker calls the registration's
// Handler.OnReadable with that buffer; the handler reads what is there,
// processes it and returns. A connection with nothing to read costs no
// goroutine and no buffer, only its registration.
//
// Scheduling guarantees, per registration:
//   - OnReadable never runs on two goroutines at once;
//   - an edge that arrives while OnReadable runs makes it run again, so no
//     readiness is lost between the handler's last read and its return;
//   - Trigger schedules OnReadable as if the fd were readable (used to run
//     teardown on the read path).
//
// The handler reads with its own syscalls on the registered fd, through
// the conn's syscall.RawConn so that a read after a close (by anyone) is
// refused instead of reaching whatever socket reuses the number; it
// should Remove before closing the fd (under RawConn.Control), or Forget
// if the fd was closed already. An event is handed to a
// worker only if one is idle at that moment; otherwise it runs on a
// goroutine of its own at once, so a slow handler (a blocking listener, a
// transcoder using its whole time budget) delays only its own connection.
//
// Elsewhere than Linux, New returns ErrUnsupported and callers fall back to
// a goroutine per connection.
package netpoll

import "errors"

// ErrUnsupported is returned by New where no poller is implemented.
var ErrUnsupported = errors.New("netpoll: not supported on this platform")

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("netpoll: poller closed")

// Handler is called when its registration may have data to read.
type Handler interface {
	// OnReadable reads and processes what is available, using buf as
	// scratch space (valid only during the call). It returns true when it
	// stopped before the fd was drained (to let others run) and wants to be
	// called again.
	OnReadable(buf []byte) (more bool)
}

// Config tunes a Poller.
type Config struct {
	// Workers is the number of long-lived worker goroutines (default 4 per CPU).
	Workers int
	// BufferSize is the size of each worker's read buffer (default 32 KiB).
	BufferSize int
}
