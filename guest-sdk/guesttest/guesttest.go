//go:build !wasip1

package guesttest

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/edgews/edgews/guest-sdk/internal/sdk"
	"github.com/edgews/edgews/wasmhost/abi"
)

// Frame is a frame written to the browser or a message delivered to the
// listeners.
type Frame struct {
	Binary bool
	Data   []byte
}

func (f Frame) String() string {
	if f.Binary {
		return fmt.Sprintf("binary %x", f.Data)
	}
	return fmt.Sprintf("text %q", f.Data)
}

// CloseRequest is a call of guest.Close.
type CloseRequest struct {
	Code   uint16
	Reason string
}

// LogLine is a call of guest.Log.
type LogLine struct {
	Level uint32
	Msg   string
}

// dispatchMu serialises dispatches: the SDK's fake host is global.
var dispatchMu sync.Mutex

// Host is one fake socket and its host.
type Host struct {
	mu         sync.Mutex
	frames     []Frame
	deliveries []Frame
	closes     []CloseRequest
	logs       []LogLine
	attrs      map[string][]byte
	timers     map[uint32]time.Duration // deadline on the virtual clock
	now        time.Duration
	closing    bool
}

// New returns a Host after running the Init handler with config; it fails
// tb if Init fails.
func New(tb testing.TB, config string) *Host {
	tb.Helper()
	h, err := TryNew(config)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// TryNew is New returning Init's error.
func TryNew(config string) (*Host, error) {
	h := &Host{attrs: map[string][]byte{}, timers: map[uint32]time.Duration{}}
	return h, h.dispatch("init", func() uint32 { return sdk.DispatchInit([]byte(config)) })
}

func (h *Host) dispatch(what string, f func() uint32) error {
	dispatchMu.Lock()
	defer dispatchMu.Unlock()
	sdk.SetFake(fakeHost{h})
	defer sdk.SetFake(nil)
	if s := f(); s != abi.StatusOK {
		return fmt.Errorf("guesttest: %s returned status %d%s", what, s, h.lastError())
	}
	return nil
}

func (h *Host) lastError() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.logs) - 1; i >= 0; i-- {
		if h.logs[i].Level == abi.LogError {
			return ": " + h.logs[i].Msg
		}
	}
	return ""
}

// Open runs the Open handler.
func (h *Host) Open(info abi.OpenInfo) error {
	b := abi.AppendOpenInfo(nil, info)
	return h.dispatch("open", func() uint32 { return sdk.DispatchOpen(b) })
}

// Inbound runs the Inbound handler with a message from the browser.
func (h *Host) Inbound(binary bool, data []byte) error {
	b := append([]byte(nil), data...)
	return h.dispatch("inbound", func() uint32 { return sdk.DispatchInbound(flag(binary), b) })
}

// Outbound runs the Outbound handler with a message for the browser.
func (h *Host) Outbound(binary bool, data []byte) error {
	b := append([]byte(nil), data...)
	return h.dispatch("outbound", func() uint32 { return sdk.DispatchOutbound(flag(binary), b) })
}

// InboundBatch runs msgs through the module's batch export for messages
// from the browser (ABI 1.1), as the host does when the server hands it
// several messages at once: the Inbound handler runs for each, in order,
// until the first failure (returned) or the message whose handler asked to
// close the socket.
// An error names the message that failed.
func (h *Host) InboundBatch(msgs []Frame) error {
	return h.batch("inbound batch", msgs, sdk.DispatchInboundBatch)
}

// OutboundBatch is InboundBatch for messages bound for the browser: the
// Outbound handler runs for each.
func (h *Host) OutboundBatch(msgs []Frame) error {
	return h.batch("outbound batch", msgs, sdk.DispatchOutboundBatch)
}

// batch encodes msgs as the host does and dispatches them with f.
func (h *Host) batch(what string, msgs []Frame, f func(count uint32, b []byte) uint32) error {
	b := abi.AppendBatchHeader(nil)
	for _, m := range msgs {
		b = abi.AppendBatchMessage(b, flag(m.Binary), m.Data)
	}
	n := uint32(len(msgs))
	err := h.dispatch(what, func() uint32 { return f(n, b) })
	if err != nil && n > 0 {
		// The guest stored the index of the message it was handling.
		err = fmt.Errorf("%w (message %d of %d)", err, abi.BatchProgress(b), n)
	}
	return err
}

// Close runs the Close handler: the socket closed with code and reason.
func (h *Host) Close(code uint16, reason string) error {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	return h.dispatch("close", func() uint32 { return sdk.DispatchClose(uint32(code), []byte(reason)) })
}

// FireTimer disarms timer id and runs the Timer handler for it, armed or
// not.
func (h *Host) FireTimer(id uint32) error {
	h.mu.Lock()
	delete(h.timers, id)
	h.mu.Unlock()
	return h.dispatch("timer", func() uint32 { return sdk.DispatchTimer(id) })
}

// Advance moves the virtual clock by d, firing every timer that comes due,
// earliest first (at most 10,000), and stops at the first error. Once the
// socket is closing (the guest asked to close it, or Close ran) no more
// timers fire, as on a server.
func (h *Host) Advance(d time.Duration) error {
	h.mu.Lock()
	end := h.now + d
	h.mu.Unlock()
	for i := 0; i < 10000; i++ {
		h.mu.Lock()
		id, at, ok := h.nextTimer()
		if !ok || at > end || h.closing {
			h.now = end
			h.mu.Unlock()
			return nil
		}
		h.now = at
		h.mu.Unlock()
		if err := h.FireTimer(id); err != nil {
			return err
		}
	}
	return fmt.Errorf("guesttest: more than 10000 timers fired in %v", d)
}

func (h *Host) nextTimer() (uint32, time.Duration, bool) {
	var (
		best   uint32
		bestAt time.Duration
		found  bool
	)
	for id, at := range h.timers {
		if !found || at < bestAt || (at == bestAt && id < best) {
			best, bestAt, found = id, at, true
		}
	}
	return best, bestAt, found
}

func flag(binary bool) uint32 {
	if binary {
		return abi.FlagBinary
	}
	return 0
}

// Frames returns the frames written to the browser so far.
func (h *Host) Frames() []Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Frame(nil), h.frames...)
}

// Deliveries returns the messages delivered to the listeners so far.
func (h *Host) Deliveries() []Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Frame(nil), h.deliveries...)
}

// TakeFrames returns the frames written so far and forgets them.
func (h *Host) TakeFrames() []Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.frames
	h.frames = nil
	return f
}

// TakeDeliveries returns the deliveries so far and forgets them.
func (h *Host) TakeDeliveries() []Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.deliveries
	h.deliveries = nil
	return d
}

// Closes returns the close requests so far.
func (h *Host) Closes() []CloseRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]CloseRequest(nil), h.closes...)
}

// Logs returns the log lines so far.
func (h *Host) Logs() []LogLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogLine(nil), h.logs...)
}

// Attr returns a socket attribute.
func (h *Host) Attr(key string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.attrs[key]
	return v, ok
}

// Timers returns the armed timers with the virtual time left until each
// fires.
func (h *Host) Timers() map[uint32]time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[uint32]time.Duration, len(h.timers))
	for id, at := range h.timers {
		out[id] = at - h.now
	}
	return out
}

// TimerIDs returns the ids of the armed timers, sorted.
func (h *Host) TimerIDs() []uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]uint32, 0, len(h.timers))
	for id := range h.timers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// fakeHost adapts Host to sdk.FakeHost with the checks wasmhost makes, so
// that a transcoder sees the same statuses natively as in the real host.
type fakeHost struct{ h *Host }

// validText is wasmhost's check of a frame or delivery: only FlagBinary
// may be set, and text must be UTF-8.
func validText(flags uint32, data []byte) bool {
	return flags&^abi.FlagBinary == 0 && (flags&abi.FlagBinary != 0 || utf8.Valid(data))
}

func (f fakeHost) WriteFrame(flags uint32, data []byte) uint32 {
	if !validText(flags, data) {
		return abi.StatusBadArgument
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	if f.h.closing {
		return abi.StatusClosed
	}
	f.h.frames = append(f.h.frames, Frame{flags&abi.FlagBinary != 0, append([]byte(nil), data...)})
	return abi.StatusOK
}

func (f fakeHost) Deliver(flags uint32, data []byte) uint32 {
	if !validText(flags, data) {
		return abi.StatusBadArgument
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.deliveries = append(f.h.deliveries, Frame{flags&abi.FlagBinary != 0, append([]byte(nil), data...)})
	return abi.StatusOK
}

func (f fakeHost) Close(code uint32, reason string) uint32 {
	switch {
	case !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999):
		return abi.StatusBadArgument
	case len(reason) > abi.MaxCloseReason:
		return abi.StatusTooLarge
	case !utf8.ValidString(reason):
		return abi.StatusBadArgument
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.closes = append(f.h.closes, CloseRequest{uint16(code), reason})
	f.h.closing = true
	return abi.StatusOK
}

func (f fakeHost) GetAttr(key string, buf []byte) int32 {
	switch {
	case key == abi.ReservedAttrKey:
		return -abi.StatusBadArgument
	case len(key) > abi.MaxAttrKey:
		return -abi.StatusTooLarge
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	v, ok := f.h.attrs[key]
	if !ok {
		return abi.AttrNotFound
	}
	if len(v) <= len(buf) {
		copy(buf, v)
	}
	return int32(len(v))
}

func (f fakeHost) SetAttr(key string, value []byte) uint32 {
	switch {
	case key == abi.ReservedAttrKey:
		return abi.StatusBadArgument
	case len(key) > abi.MaxAttrKey || len(value) > abi.MaxAttrValue:
		return abi.StatusTooLarge
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	used := 0
	for k, v := range f.h.attrs {
		if k != key {
			used += len(k) + len(v)
		}
	}
	if used+len(key)+len(value) > abi.MaxAttrTotal {
		return abi.StatusTooLarge
	}
	f.h.attrs[key] = append([]byte{}, value...)
	return abi.StatusOK
}

func (f fakeHost) DeleteAttr(key string) uint32 {
	switch {
	case key == abi.ReservedAttrKey:
		return abi.StatusBadArgument
	case len(key) > abi.MaxAttrKey:
		return abi.StatusTooLarge
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	delete(f.h.attrs, key)
	return abi.StatusOK
}

func (f fakeHost) ArmTimer(id uint32, afterNs int64) uint32 {
	if id > abi.MaxTimerID {
		return abi.StatusBadArgument
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	if afterNs <= 0 {
		delete(f.h.timers, id)
	} else {
		f.h.timers[id] = f.h.now + time.Duration(afterNs)
	}
	return abi.StatusOK
}

func (f fakeHost) Log(level uint32, msg string) {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.logs = append(f.h.logs, LogLine{level, msg})
}

// OpenInfo is guest.OpenInfo, repeated here so that tests need one import.
type OpenInfo = abi.OpenInfo
