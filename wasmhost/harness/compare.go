package harness

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edgews/edgews/wasmhost"
)

// Compare measures two builds of a transcoder (or two transcoders) side by
// side: the per-message cost of passing the same batch of messages in and
// out of each, on one socket each, in short rounds that alternate between
// the two (A then B, then B then A, ...). A shared machine's noise then
// hits both alike, and the median of the per-round ratios B/A is steady
// where separate runs of a benchmark can differ by a third.
//
// The host side is a minimal one that keeps attributes and timers' ids and
// discards frames and deliveries, so the figures are the module's cost
// plus wasmhost's per-call and per-host-call cost, as in the server.

// CompareOptions configure Compare. Zero fields get the defaults noted.
type CompareOptions struct {
	// Config for both modules (GuestConfig, limits). MaxInstances is set
	// to 1.
	Config wasmhost.ModuleConfig
	// CacheDir is the compilation cache directory of the runtime Compare
	// creates ("" = memory only).
	CacheDir string
	// Socket is opened on each module before the measurement.
	Socket wasmhost.SocketInfo
	// Message is passed Batch times per call; default 100 bytes of text.
	Message []byte
	Binary  bool
	// Batch is the number of messages per call (default 16; 1 uses the
	// single-message exports).
	Batch int
	// Rounds (default 200) and Calls per round and module (default 50)
	// bound the measurement, as does MaxDuration per direction (default
	// 60s; at least one round runs).
	Rounds, Calls int
	MaxDuration   time.Duration
}

// Comparison is Compare's result, one entry per direction.
type Comparison struct {
	Rounds, Batch, Calls int // what was run: rounds, messages per call, calls per round
	Directions           []DirectionComparison
}

// DirectionComparison holds the per-message times of one direction, in
// nanoseconds: A's and B's median over the rounds, and the quartiles of
// the per-round ratio B/A.
type DirectionComparison struct {
	Direction                    string // "inbound" or "outbound"
	AMedian, BMedian             float64
	RatioP25, RatioMed, RatioP75 float64
}

// Compare loads a and b into one runtime and measures them as described
// above. It fails if either module fails a call.
func Compare(ctx context.Context, a, b []byte, o CompareOptions) (*Comparison, error) {
	o.defaults()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{CacheDir: o.CacheDir})
	if err != nil {
		return nil, err
	}
	defer rt.Close(ctx)
	cfg := o.Config
	cfg.MaxInstances = 1
	var mods [2]*wasmhost.Module
	var hosts [2]*quietHost
	for i, wasm := range [][]byte{a, b} {
		name := string(rune('A' + i))
		if mods[i], err = rt.Load(ctx, name, wasm, cfg); err != nil {
			return nil, fmt.Errorf("module %s: %w", name, err)
		}
		hosts[i] = &quietHost{attrs: map[string][]byte{}}
		if err := mods[i].Open(ctx, hosts[i], o.Socket); err != nil {
			return nil, fmt.Errorf("module %s: open: %w", name, err)
		}
	}
	msgs := make([]wasmhost.Msg, o.Batch)
	for i := range msgs {
		msgs[i] = wasmhost.Msg{Binary: o.Binary, Data: o.Message}
	}
	res := &Comparison{Batch: o.Batch, Calls: o.Calls}
	for _, dir := range []string{"inbound", "outbound"} {
		deadline := time.Now().Add(o.MaxDuration)
		var times [2][]float64
		var ratios []float64
		for r := 0; r < o.Rounds && (r == 0 || time.Now().Before(deadline)); r++ {
			var t [2]float64
			for k := 0; k < 2; k++ {
				i := k ^ r&1 // A first in even rounds, B first in odd ones
				call := mods[i].InboundBatch
				if dir == "outbound" {
					call = mods[i].OutboundBatch
				}
				start := time.Now()
				for c := 0; c < o.Calls; c++ {
					if _, err := call(ctx, hosts[i], msgs); err != nil {
						return nil, fmt.Errorf("module %c: %s: %w", 'A'+i, dir, err)
					}
				}
				t[i] = float64(time.Since(start).Nanoseconds()) / float64(o.Calls*o.Batch)
				times[i] = append(times[i], t[i])
			}
			ratios = append(ratios, t[1]/t[0])
		}
		res.Rounds = len(ratios)
		res.Directions = append(res.Directions, DirectionComparison{
			Direction: dir,
			AMedian:   quantile(times[0], 0.5), BMedian: quantile(times[1], 0.5),
			RatioP25: quantile(ratios, 0.25), RatioMed: quantile(ratios, 0.5), RatioP75: quantile(ratios, 0.75),
		})
	}
	return res, nil
}

func (o *CompareOptions) defaults() {
	if o.Message == nil {
		o.Message = make([]byte, 100)
		for i := range o.Message {
			o.Message[i] = 'a' + byte(i%26)
		}
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Rounds <= 0 {
		o.Rounds = 200
	}
	if o.Calls <= 0 {
		o.Calls = 50
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = time.Minute
	}
	if o.Socket.ID == "" {
		o.Socket = wasmhost.SocketInfo{ID: "compare.1", User: "compare", Context: "0", Path: "/compare", RemoteAddr: "127.0.0.1:1"}
	}
}

// quantile returns the q-quantile of xs (sorted in place; nearest rank).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	return xs[min(len(xs)-1, int(q*float64(len(xs))))]
}

// quietHost is Compare's host: attributes kept, output discarded.
type quietHost struct {
	attrs map[string][]byte
}

func (*quietHost) WriteFrame(bool, []byte) error { return nil }
func (*quietHost) Deliver(bool, []byte) error    { return nil }
func (*quietHost) Close(uint16, string)          {}
func (h *quietHost) Attr(key string) ([]byte, bool) {
	v, ok := h.attrs[key]
	return v, ok
}
func (h *quietHost) SetAttr(key string, value []byte) {
	if value == nil {
		delete(h.attrs, key)
		return
	}
	h.attrs[key] = append([]byte(nil), value...)
}
func (*quietHost) ArmTimer(uint32, time.Duration) {}

var _ wasmhost.Host = (*quietHost)(nil)
