//go:build !wasip1

package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/edgews/edgews/guest-sdk/guesttest"
	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/harness"
)

// Batches: the server hands the transcoder all messages of a read round
// in one call (ABI 1.1). TestBatchScenarios runs every scenario twice on
// fresh sockets, once a message per call and once with each run of
// consecutive inbound (outbound) messages in one batch, natively and as
// .wasm, and requires the same frames, deliveries, closes, errors and
// timers in the end. The SDK stops a batch after the message that closed
// the socket, and the refuse_* scenarios close on their last message, so
// every scenario qualifies.

type batchSocket interface {
	socket
	inboundBatch(msgs []guesttest.Frame) error
	outboundBatch(msgs []guesttest.Frame) error
}

func (n *nativeSocket) inboundBatch(m []guesttest.Frame) error  { return n.h.InboundBatch(m) }
func (n *nativeSocket) outboundBatch(m []guesttest.Frame) error { return n.h.OutboundBatch(m) }
func (w *wasmSocket) inboundBatch(m []guesttest.Frame) error    { return w.s.InboundBatch(toHarness(m)) }
func (w *wasmSocket) outboundBatch(m []guesttest.Frame) error   { return w.s.OutboundBatch(toHarness(m)) }

func toHarness(msgs []guesttest.Frame) []harness.Frame {
	out := make([]harness.Frame, len(msgs))
	for i, m := range msgs {
		out[i] = harness.Frame{Binary: m.Binary, Data: m.Data}
	}
	return out
}

// runAll drives sc on s, batched or not, and returns everything that came
// out: the frames in order, the deliveries in order (a batch interleaves
// the two streams differently from single calls), closes, errors, and the
// timers armed at the end.
func runAll(sc scenario, s batchSocket, openErr error, batched bool) string {
	var frames, deliveries, other strings.Builder
	record := func(err error) {
		f, d, c := s.take()
		for _, x := range f {
			fmt.Fprintf(&frames, "< %s\n", x)
		}
		for _, x := range d {
			fmt.Fprintf(&deliveries, "= %s\n", x)
		}
		for _, x := range c {
			fmt.Fprintf(&other, "! close %s\n", x)
		}
		if err != nil {
			fmt.Fprintf(&other, "error\n") // the texts differ: a batch names the message
		}
	}
	record(openErr)
	steps := sc.steps
	for len(steps) > 0 {
		st := steps[0]
		inbound, outbound := st.kind == "in" || st.kind == "bin", st.kind == "out" || st.kind == "outbin"
		if !batched || (!inbound && !outbound) {
			steps = steps[1:]
			switch st.kind {
			case "in", "bin":
				record(s.inbound(st.kind == "bin", []byte(st.data)))
			case "out", "outbin":
				record(s.outbound(st.kind == "outbin", []byte(st.data)))
			case "advance":
				record(s.advance(st.d))
			case "closed":
				var code uint16
				var reason string
				fmt.Sscanf(st.data, "%d %s", &code, &reason)
				record(s.closed(code, reason))
			}
			continue
		}
		var msgs []guesttest.Frame
		for len(steps) > 0 {
			k := steps[0].kind
			if inbound && k != "in" && k != "bin" || outbound && k != "out" && k != "outbin" {
				break
			}
			msgs = append(msgs, guesttest.Frame{Binary: k == "bin" || k == "outbin", Data: []byte(steps[0].data)})
			steps = steps[1:]
		}
		if inbound {
			record(s.inboundBatch(msgs))
		} else {
			record(s.outboundBatch(msgs))
		}
	}
	tm := s.timers()
	ids := make([]int, 0, len(tm))
	for id := range tm {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		fmt.Fprintf(&other, "timer %d:%v\n", id, tm[uint32(id)])
	}
	return frames.String() + deliveries.String() + other.String()
}

func TestBatchScenariosNative(t *testing.T) {
	// The handlers are global (one instance): scenarios run one by one.
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var runs [2]string
			for i, batched := range []bool{false, true} {
				h := guesttest.New(t, sc.config)
				oi := info
				oi.Query = stripSession(sc.query)
				err := h.Open(oi)
				runs[i] = runAll(sc, &nativeSocket{h: h}, err, batched)
			}
			if runs[0] != runs[1] {
				t.Errorf("batched differs from one call per message\n--- single\n%s--- batched\n%s", runs[0], runs[1])
			}
		})
	}
}

func TestBatchScenariosWasm(t *testing.T) {
	t.Parallel()
	wasm, rt := module(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			h, err := harness.Load(context.Background(), wasm, harness.Options{Runtime: rt, Config: wasmhost.ModuleConfig{GuestConfig: sc.config, MaxInstances: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			var runs [2]string
			for i, batched := range []bool{false, true} {
				s := h.NewSocket(wasmhost.SocketInfo{ID: info.SocketID, Path: info.Path, User: info.User, Context: info.Context, RawQuery: sc.query})
				err := s.Open()
				runs[i] = runAll(sc, &wasmSocket{s: s}, err, batched)
			}
			if runs[0] != runs[1] {
				t.Errorf("batched differs from one call per message\n--- single\n%s--- batched\n%s", runs[0], runs[1])
			}
			if st := h.Module().Stats(); len(sc.steps) > 1 && st.BatchCalls == 0 {
				t.Errorf("no batch calls: %+v", st)
			}
		})
	}
}
