package harness

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/edgews/edgews/wasmhost"
)

// Options configure Load.
type Options struct {
	// Config is the module's configuration (GuestConfig, limits).
	Config wasmhost.ModuleConfig
	// Runtime to load into; nil creates one that Close closes.
	Runtime *wasmhost.Runtime
	// CacheDir for a created runtime's compilation cache ("" = memory).
	CacheDir string
	// Logger for a created runtime; nil discards.
	Logger *slog.Logger
}

// Harness is a loaded module.
type Harness struct {
	rt    *wasmhost.Runtime
	ownRT bool
	mod   *wasmhost.Module
}

// LoadFile is Load with the module read from path.
func LoadFile(ctx context.Context, path string, opts Options) (*Harness, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	return Load(ctx, wasm, opts)
}

// Load compiles and starts wasm as wasmhost.Runtime.Load does.
func Load(ctx context.Context, wasm []byte, opts Options) (*Harness, error) {
	h := &Harness{rt: opts.Runtime}
	if h.rt == nil {
		rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{CacheDir: opts.CacheDir, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		h.rt, h.ownRT = rt, true
	}
	mod, err := h.rt.Load(ctx, "harness", wasm, opts.Config)
	if err != nil {
		if h.ownRT {
			_ = h.rt.Close(ctx)
		}
		return nil, err
	}
	h.mod = mod
	return h, nil
}

// Module returns the loaded module, for its Stats.
func (h *Harness) Module() *wasmhost.Module { return h.mod }

// Close closes the module (and the runtime if Load created it).
func (h *Harness) Close() error {
	ctx := context.Background()
	err := h.mod.Close(ctx)
	if h.ownRT {
		if cerr := h.rt.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

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

// CloseRequest is a close the guest asked for.
type CloseRequest struct {
	Code   uint16
	Reason string
}

// Socket is one simulated socket. Its call methods serialise like the
// server does; it implements wasmhost.Host for the module.
type Socket struct {
	h    *Harness
	info wasmhost.SocketInfo
	call sync.Mutex

	mu         sync.Mutex
	frames     []Frame
	deliveries []Frame
	closes     []CloseRequest
	attrs      map[string][]byte
	timers     map[uint32]time.Duration // deadline on the virtual clock
	now        time.Duration
	closing    bool
}

// hostView is the socket as the module sees it: wasmhost.Host.
type hostView Socket

var _ wasmhost.Host = (*hostView)(nil)

func (s *Socket) host() *hostView { return (*hostView)(s) }

// NewSocket returns a socket; call Open to tell the module about it.
func (h *Harness) NewSocket(info wasmhost.SocketInfo) *Socket {
	return &Socket{h: h, info: info, attrs: map[string][]byte{}, timers: map[uint32]time.Duration{}}
}

// Open runs the module's open export.
func (s *Socket) Open() error {
	s.call.Lock()
	defer s.call.Unlock()
	return s.h.mod.Open(context.Background(), s.host(), s.info)
}

// Inbound passes a message from the browser.
func (s *Socket) Inbound(binary bool, data []byte) error {
	s.call.Lock()
	defer s.call.Unlock()
	return s.h.mod.Inbound(context.Background(), s.host(), binary, data)
}

// Outbound passes a message bound for the browser.
func (s *Socket) Outbound(binary bool, data []byte) error {
	s.call.Lock()
	defer s.call.Unlock()
	return s.h.mod.Outbound(context.Background(), s.host(), binary, data)
}

// InboundBatch passes several messages from the browser in one batch, as
// the server does with the messages of one read (wasmhost.Module.InboundBatch).
func (s *Socket) InboundBatch(msgs []Frame) error {
	s.call.Lock()
	defer s.call.Unlock()
	_, err := s.h.mod.InboundBatch(context.Background(), s.host(), toMsgs(msgs))
	return err
}

// OutboundBatch passes several messages bound for the browser in one batch
// (wasmhost.Module.OutboundBatch).
func (s *Socket) OutboundBatch(msgs []Frame) error {
	s.call.Lock()
	defer s.call.Unlock()
	_, err := s.h.mod.OutboundBatch(context.Background(), s.host(), toMsgs(msgs))
	return err
}

func toMsgs(frames []Frame) []wasmhost.Msg {
	msgs := make([]wasmhost.Msg, len(frames))
	for i, f := range frames {
		msgs[i] = wasmhost.Msg{Binary: f.Binary, Data: f.Data}
	}
	return msgs
}

// Close tells the module the socket closed.
func (s *Socket) Close(code uint16, reason string) error {
	s.call.Lock()
	defer s.call.Unlock()
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	return s.h.mod.Closed(context.Background(), s.host(), code, reason)
}

// FireTimer disarms timer id and runs the module's timer export for it.
func (s *Socket) FireTimer(id uint32) error {
	s.mu.Lock()
	delete(s.timers, id)
	s.mu.Unlock()
	s.call.Lock()
	defer s.call.Unlock()
	return s.h.mod.Timer(context.Background(), s.host(), id)
}

// Advance moves the socket's virtual clock by d, firing every timer that
// comes due, earliest first (at most 10,000), and stops at the first error.
// Once the socket is closing (the guest asked to close it, or Close ran) no
// more timers fire, as on a server.
func (s *Socket) Advance(d time.Duration) error {
	s.mu.Lock()
	end := s.now + d
	s.mu.Unlock()
	for i := 0; i < 10000; i++ {
		s.mu.Lock()
		var (
			id    uint32
			at    time.Duration
			found bool
		)
		for tid, tat := range s.timers {
			if !found || tat < at || (tat == at && tid < id) {
				id, at, found = tid, tat, true
			}
		}
		if !found || at > end || s.closing {
			s.now = end
			s.mu.Unlock()
			return nil
		}
		s.now = at
		s.mu.Unlock()
		if err := s.FireTimer(id); err != nil {
			return err
		}
	}
	return fmt.Errorf("harness: more than 10000 timers fired in %v", d)
}

// Frames returns the frames written to the browser so far.
func (s *Socket) Frames() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.frames...)
}

// Deliveries returns the messages delivered to the listeners so far.
func (s *Socket) Deliveries() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.deliveries...)
}

// TakeFrames returns the frames so far and forgets them.
func (s *Socket) TakeFrames() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.frames
	s.frames = nil
	return f
}

// TakeDeliveries returns the deliveries so far and forgets them.
func (s *Socket) TakeDeliveries() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deliveries
	s.deliveries = nil
	return d
}

// Closes returns the close requests so far.
func (s *Socket) Closes() []CloseRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CloseRequest(nil), s.closes...)
}

// Timers returns the armed timers with the virtual time left until each
// fires.
func (s *Socket) Timers() map[uint32]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[uint32]time.Duration, len(s.timers))
	for id, at := range s.timers {
		out[id] = at - s.now
	}
	return out
}

// TimerIDs returns the ids of the armed timers, sorted.
func (s *Socket) TimerIDs() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]uint32, 0, len(s.timers))
	for id := range s.timers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Attr returns a socket attribute.
func (s *Socket) Attr(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.attrs[key]
	return v, ok
}

// SetAttr sets a socket attribute (nil deletes), as the server would
// before the module sees the socket.
func (s *Socket) SetAttr(key string, value []byte) { s.host().SetAttr(key, value) }

// Attr implements wasmhost.Host.
func (s *hostView) Attr(key string) ([]byte, bool) { return (*Socket)(s).Attr(key) }

// WriteFrame implements wasmhost.Host.
func (s *hostView) WriteFrame(binary bool, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errClosing
	}
	s.frames = append(s.frames, Frame{binary, append([]byte(nil), data...)})
	return nil
}

// Deliver implements wasmhost.Host.
func (s *hostView) Deliver(binary bool, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, Frame{binary, append([]byte(nil), data...)})
	return nil
}

// Close implements wasmhost.Host: the guest asks to close the socket.
func (s *hostView) Close(code uint16, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes = append(s.closes, CloseRequest{code, reason})
	s.closing = true
}

// SetAttr implements wasmhost.Host.
func (s *hostView) SetAttr(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		delete(s.attrs, key)
		return
	}
	s.attrs[key] = append([]byte{}, value...)
}

// ArmTimer implements wasmhost.Host.
func (s *hostView) ArmTimer(id uint32, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if after <= 0 {
		delete(s.timers, id)
		return
	}
	s.timers[id] = s.now + after
}

var errClosing = fmt.Errorf("harness: socket closing")
