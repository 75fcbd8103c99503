package wasmhost

import "time"

// Host is the socket a call serves. The server implements it, one per
// socket, and passes it to every call for that socket.
//
// A Host is used only during the call it was passed to, on the calling
// goroutine. Byte slices passed to its methods point into guest memory and
// are valid only until the method returns: an implementation copies what it
// keeps. Methods must not block; they run on the socket's read path.
type Host interface {
	// WriteFrame queues one frame to the browser. An error means the socket
	// is closing and nothing was queued; the guest sees abi.StatusClosed.
	WriteFrame(binary bool, data []byte) error
	// Deliver hands one decoded message to the listeners.
	Deliver(binary bool, data []byte) error
	// Close closes this socket with code and reason. It takes effect after
	// the call returns. The code is one an endpoint may send (1000–1003,
	// 1007–1014, 3000–4999) and the reason valid UTF-8 of at most 123 bytes;
	// wasmhost checks both before calling.
	Close(code uint16, reason string)
	// Attr returns the value of a per-socket attribute.
	Attr(key string) ([]byte, bool)
	// SetAttr sets a per-socket attribute; a nil value deletes it.
	SetAttr(key string, value []byte)
	// ArmTimer (re)arms timer id of this socket. When it fires the server
	// calls Timer(id) on the socket's transcoder. after <= 0 cancels it.
	ArmTimer(id uint32, after time.Duration)
}

// SocketInfo describes the socket passed to Open.
type SocketInfo struct {
	ID         string
	SessionID  string // never passed to the guest
	User       string
	Context    string
	Path       string
	RawQuery   string // the "session" parameter is removed before the guest sees it
	RemoteAddr string
}
