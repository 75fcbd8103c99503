package wasmhost

import (
	"errors"
	"fmt"
)

// Sentinel errors. Load and Replace wrap them with detail; test with
// errors.Is.
var (
	ErrClosed        = errors.New("wasmhost: closed")
	ErrABIVersion    = errors.New("wasmhost: unsupported ABI version")
	ErrInvalidModule = errors.New("wasmhost: invalid module")
	ErrInit          = errors.New("wasmhost: guest init failed")
	ErrConfig        = errors.New("wasmhost: invalid config")
	ErrNotFound      = errors.New("wasmhost: no such transcoder")
)

// Kind classifies a failed call.
type Kind uint8

// Kinds of call failure. Every kind except KindGuestStatus and
// KindUnavailable throws the instance away.
const (
	KindTrap        Kind = iota + 1 // the guest trapped or exited (proc_exit, Go panic)
	KindTimeout                     // the call ran past ModuleConfig.CallTimeout
	KindCanceled                    // the caller's context was done
	KindMemoryLimit                 // the guest hit ModuleConfig.MaxMemoryPages
	KindEmitLimit                   // the call emitted more than ModuleConfig.MaxEmitBytes
	KindBadPointer                  // the guest handed the host an out-of-range pointer or length
	KindGuestStatus                 // the guest returned a non-zero status
	KindUnavailable                 // no instance could be had (instantiation failed, module closed)

	kindCount
)

// KindCount bounds the Kind values: ModuleStats.Failures is indexed by Kind.
const KindCount = int(kindCount)

var kindNames = [...]string{
	KindTrap:        "trap",
	KindTimeout:     "timeout",
	KindCanceled:    "canceled",
	KindMemoryLimit: "memory_limit",
	KindEmitLimit:   "emit_limit",
	KindBadPointer:  "bad_pointer",
	KindGuestStatus: "guest_status",
	KindUnavailable: "unavailable",
}

// String returns the kind as a metric label value, e.g. "timeout".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// discards reports whether a failure of this kind throws the instance away.
func (k Kind) discards() bool {
	return k != KindGuestStatus && k != KindUnavailable
}

// CloseCode1011 is the close code for a socket whose transcoder failed:
// "Internal Error" (RFC 6455 §7.4.1).
const CloseCode1011 = 1011

// CallError is the error of a failed call into a module. The server closes
// the socket the call served with CloseCode and Reason.
type CallError struct {
	Module string // module name as given to Load
	Func   string // "open", "inbound", "outbound", "close", "timer"; a batch is "inbound" or "outbound"
	Kind   Kind
	Status uint32 // the guest's status, for KindGuestStatus
	Detail string // what happened, for logs (may name addresses and sizes)
	Err    error  // underlying error, if any

	// Batch is the number of messages of a failed InboundBatch or
	// OutboundBatch call (0 for other calls), and Message the index of the
	// one that failed: those before it were handled, those after it were
	// not (0 when the batch failed before reaching the guest). For a guest
	// of ABI 1.1 the index is what the guest last stored in the batch's
	// progress word.
	Batch   int
	Message int
}

func (e *CallError) Error() string {
	s := "wasmhost: " + e.Module + "." + e.Func + ": " + e.Kind.String()
	if e.Kind == KindGuestStatus {
		s += fmt.Sprintf(" %d", e.Status)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Batch > 0 {
		s += fmt.Sprintf(" (message %d of a batch of %d)", e.Message, e.Batch)
	}
	return s
}

func (e *CallError) Unwrap() error { return e.Err }

// CloseCode is the close code for the socket: always 1011.
func (e *CallError) CloseCode() uint16 { return CloseCode1011 }

// Reason is a short close reason safe to send to the browser: it names the
// kind of failure and nothing about the module's internals. At most 123
// bytes.
func (e *CallError) Reason() string {
	return "transcoder " + e.Kind.String()
}
