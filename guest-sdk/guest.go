package guest

import (
	"time"

	"github.com/edgews/edgews/guest-sdk/internal/sdk"
	"github.com/edgews/edgews/wasmhost/abi"
)

// Message is one WebSocket message. Data is valid only during the handler
// call it was passed to: copy what you keep (and keep nothing between
// calls; see the package doc).
type Message = sdk.Message

// OpenInfo describes the socket passed to the Open handler.
type OpenInfo = abi.OpenInfo

// Handlers are a transcoder's callbacks; see Register. Each runs for one
// socket, one call at a time, and returns an error to fail the call: the
// host then closes the socket with 1011. A panic is recovered and treated
// the same way.
type Handlers = sdk.Handlers

// Register installs the handlers. Call it from an init function: a module
// built with -buildmode=c-shared runs package initialisation but never
// main. Nil fields get defaults: Inbound delivers the message unchanged,
// Outbound writes it to the browser unchanged, the others do nothing.
func Register(h Handlers) { sdk.H = h }

// Errors returned by the host calls.
var (
	ErrNotFound    = sdk.ErrNotFound    // no such attribute
	ErrBadArgument = sdk.ErrBadArgument // out of range, or no socket (during Init)
	ErrTooLarge    = sdk.ErrTooLarge    // key, value or close reason over its limit
	ErrClosed      = sdk.ErrClosed      // the socket is closing; nothing was queued
)

// WriteFrame queues a frame to the browser. Text frames must be valid
// UTF-8.
func WriteFrame(binary bool, data []byte) error { return sdk.WriteFrame(binary, data) }

// WriteText queues a text frame to the browser.
func WriteText(s string) error { return sdk.WriteFrame(false, []byte(s)) }

// Deliver hands a decoded message to the server's listeners.
func Deliver(binary bool, data []byte) error { return sdk.Deliver(binary, data) }

// Close closes the socket with code and reason (at most 123 bytes of
// UTF-8) once the current call returns. Codes: 1000–1003, 1007–1014,
// 3000–4999.
func Close(code uint16, reason string) error { return sdk.Close(code, reason) }

// Attr returns a copy of the socket attribute key, and whether it is set.
func Attr(key string) ([]byte, bool) {
	v, ok, _ := sdk.Attr(key)
	return v, ok
}

// AppendAttr appends the value of the socket attribute key to dst and
// reports whether it is set. It reads straight into dst's spare capacity,
// so a transcoder that reuses dst allocates nothing per call.
func AppendAttr(dst []byte, key string) ([]byte, bool) {
	v, ok, _ := sdk.AppendAttr(dst, key)
	return v, ok
}

// AttrString is Attr for string values.
func AttrString(key string) (string, bool) {
	v, ok := Attr(key)
	return string(v), ok
}

// SetAttr sets the socket attribute key (keys up to 256 bytes, values up
// to 64 KiB, all of a socket's attributes together up to 1 MiB;
// ErrTooLarge beyond).
func SetAttr(key string, value []byte) error { return sdk.SetAttr(key, value) }

// SetAttrString is SetAttr for string values.
func SetAttrString(key, value string) error { return sdk.SetAttr(key, []byte(value)) }

// DeleteAttr removes the socket attribute key.
func DeleteAttr(key string) error { return sdk.DeleteAttr(key) }

// ArmTimer (re)arms the socket's timer id (0 to 255; ErrBadArgument
// beyond) to fire after d; the Timer handler then runs with id. Each
// socket has its own timers.
func ArmTimer(id uint32, d time.Duration) error {
	if d <= 0 {
		d = 1 // 0 would cancel
	}
	return sdk.ArmTimer(id, d)
}

// CancelTimer stops the socket's timer id if it is armed.
func CancelTimer(id uint32) error { return sdk.ArmTimer(id, 0) }

// Log levels.
const (
	LevelDebug = abi.LogDebug
	LevelInfo  = abi.LogInfo
	LevelWarn  = abi.LogWarn
	LevelError = abi.LogError
)

// Log writes a line to the server's log, tagged with the module's name.
// The host keeps at most 1 KiB of it and rate-limits each module.
func Log(level uint32, msg string) { sdk.Log(level, msg) }
