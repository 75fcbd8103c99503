package sdk

import (
	"errors"
	"time"

	"github.com/edgews/edgews/wasmhost/abi"
)

// Message is one WebSocket message. Data is valid only during the handler
// call it was passed to: the SDK reuses the buffer for the next call.
type Message struct {
	Binary bool
	Data   []byte
}

// Handlers are the transcoder's callbacks. Nil fields get defaults: Inbound
// delivers the message unchanged, Outbound writes it to the browser
// unchanged, the others do nothing.
type Handlers struct {
	Init     func(config string) error
	Open     func(info abi.OpenInfo) error
	Inbound  func(m Message) error
	Outbound func(m Message) error
	Close    func(code uint16, reason string) error
	Timer    func(id uint32) error
}

// H holds the registered handlers.
var H Handlers

// Errors for host call statuses.
var (
	ErrNotFound    = errors.New("guest: not found")
	ErrBadArgument = errors.New("guest: bad argument")
	ErrTooLarge    = errors.New("guest: too large")
	ErrClosed      = errors.New("guest: socket closing")
)

// StatusError converts a host call status to an error.
func StatusError(s uint32) error {
	switch s {
	case abi.StatusOK:
		return nil
	case abi.StatusNotFound:
		return ErrNotFound
	case abi.StatusBadArgument:
		return ErrBadArgument
	case abi.StatusTooLarge:
		return ErrTooLarge
	case abi.StatusClosed:
		return ErrClosed
	}
	return errors.New("guest: host status " + itoa(s))
}

// statusErrs holds StatusError's result for every status that fits a
// byte. WriteFrame and Deliver look their result up here rather than call
// StatusError, which keeps them (and the SDK's exported wrappers) small
// enough for the compiler to inline into a handler: in a Go guest on Wasm
// every call level per message costs tens of nanoseconds. Host functions
// return 0 to 4 (ABI.md, "Status codes").
var statusErrs [256]error

func init() {
	for i := range statusErrs {
		statusErrs[i] = StatusError(uint32(i))
	}
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// result turns a handler's error into the export's status, logging it.
func result(what string, err error) uint32 {
	if err == nil {
		return abi.StatusOK
	}
	Log(abi.LogError, what+": "+err.Error())
	return abi.StatusGuestError
}

// recovered turns a handler's panic into StatusGuestError, so that a Go
// panic costs the call (and its socket) but not the instance.
func recovered(what string, status *uint32) {
	if r := recover(); r != nil {
		msg := "panic"
		switch v := r.(type) {
		case error:
			msg += ": " + v.Error()
		case string:
			msg += ": " + v
		}
		Log(abi.LogError, what+": "+msg)
		*status = abi.StatusGuestError
	}
}

// DispatchInit and the other Dispatch functions run the handler for an
// export call whose input is in b, turning an error or a panic into
// StatusGuestError.
func DispatchInit(b []byte) (status uint32) {
	defer recovered("init", &status)
	return dispatchInit(b)
}

func dispatchInit(b []byte) uint32 {
	if H.Init == nil {
		return abi.StatusOK
	}
	return result("init", H.Init(string(b)))
}

func DispatchOpen(b []byte) (status uint32) {
	defer recovered("open", &status)
	return dispatchOpen(b)
}

func dispatchOpen(b []byte) uint32 {
	if H.Open == nil {
		return abi.StatusOK
	}
	info, err := abi.DecodeOpenInfo(b)
	if err != nil {
		return result("open", err)
	}
	return result("open", H.Open(info))
}

func DispatchInbound(fl uint32, b []byte) (status uint32) {
	defer recovered("inbound", &status)
	return dispatchInbound(fl, b)
}

func dispatchInbound(fl uint32, b []byte) uint32 {
	m := Message{Binary: fl&abi.FlagBinary != 0, Data: b}
	if H.Inbound == nil {
		return result("inbound", Deliver(m.Binary, m.Data))
	}
	return result("inbound", H.Inbound(m))
}

func DispatchOutbound(fl uint32, b []byte) (status uint32) {
	defer recovered("outbound", &status)
	return dispatchOutbound(fl, b)
}

func dispatchOutbound(fl uint32, b []byte) uint32 {
	m := Message{Binary: fl&abi.FlagBinary != 0, Data: b}
	if H.Outbound == nil {
		return result("outbound", WriteFrame(m.Binary, m.Data))
	}
	return result("outbound", H.Outbound(m))
}

func DispatchClose(code uint32, b []byte) (status uint32) {
	defer recovered("close", &status)
	return dispatchClose(code, b)
}

func dispatchClose(code uint32, b []byte) uint32 {
	if H.Close == nil {
		return abi.StatusOK
	}
	return result("close", H.Close(uint16(code), string(b)))
}

func DispatchTimer(id uint32) (status uint32) {
	defer recovered("timer", &status)
	return dispatchTimer(id)
}

func dispatchTimer(id uint32) uint32 {
	if H.Timer == nil {
		return abi.StatusOK
	}
	return result("timer", H.Timer(id))
}

// Close asks the host to close the socket after this call.
func Close(code uint16, reason string) error {
	s := hostClose(uint32(code), reason)
	if s == abi.StatusOK {
		closeAsked = true
	}
	return StatusError(s)
}

// Attr returns a copy of an attribute's value.
func Attr(key string) ([]byte, bool, error) {
	var buf [256]byte
	n := hostGetAttr(key, buf[:])
	if n < 0 {
		if uint32(-n) == abi.StatusNotFound {
			return nil, false, nil
		}
		return nil, false, StatusError(uint32(-n))
	}
	if int(n) <= len(buf) {
		return append([]byte(nil), buf[:n]...), true, nil
	}
	big := make([]byte, n)
	m := hostGetAttr(key, big)
	if m < 0 {
		if uint32(-m) == abi.StatusNotFound {
			return nil, false, nil
		}
		return nil, false, StatusError(uint32(-m))
	}
	if int(m) > len(big) { // changed in between: cannot happen within one call
		return nil, false, ErrTooLarge
	}
	return big[:m], true, nil
}

// AppendAttr appends an attribute's value to dst, reading it straight into
// dst's spare capacity when it fits (no allocation in the common case).
func AppendAttr(dst []byte, key string) ([]byte, bool, error) {
	for i := 0; i < 2; i++ {
		spare := dst[len(dst):cap(dst)]
		n := hostGetAttr(key, spare)
		if n < 0 {
			if uint32(-n) == abi.StatusNotFound {
				return dst, false, nil
			}
			return dst, false, StatusError(uint32(-n))
		}
		if int(n) <= len(spare) {
			return dst[:len(dst)+int(n)], true, nil
		}
		grown := make([]byte, len(dst), len(dst)+int(n))
		copy(grown, dst)
		dst = grown
	}
	return dst, false, ErrTooLarge // changed between the two reads: cannot happen within one call
}

// SetAttr sets an attribute (an empty value is kept; use DeleteAttr).
func SetAttr(key string, value []byte) error {
	return StatusError(hostSetAttr(key, value))
}

// DeleteAttr removes an attribute.
func DeleteAttr(key string) error {
	return StatusError(hostDeleteAttr(key))
}

// ArmTimer (re)arms timer id; after <= 0 cancels it.
func ArmTimer(id uint32, after time.Duration) error {
	return StatusError(hostArmTimer(id, int64(after)))
}

// Log writes a line to the server's log.
func Log(level uint32, msg string) {
	hostLog(level, msg)
}
