//go:build !wasip1

package sdk

import (
	"bytes"
	"errors"
	"testing"

	"github.com/edgews/edgews/wasmhost/abi"
)

// The handlers and the fake host are package state (a module has one set
// of exports), so these tests do not run in parallel.

// recorder is a FakeHost that records deliveries, frames and closes.
type recorder struct {
	delivered, written []msg
	closes             int
	logs               []string
}

type msg struct {
	flags uint32
	data  string
}

func (r *recorder) WriteFrame(flags uint32, data []byte) uint32 {
	r.written = append(r.written, msg{flags, string(data)})
	return abi.StatusOK
}

func (r *recorder) Deliver(flags uint32, data []byte) uint32 {
	r.delivered = append(r.delivered, msg{flags, string(data)})
	return abi.StatusOK
}

func (r *recorder) Close(uint32, string) uint32   { r.closes++; return abi.StatusOK }
func (r *recorder) GetAttr(string, []byte) int32  { return abi.AttrNotFound }
func (r *recorder) SetAttr(string, []byte) uint32 { return abi.StatusOK }
func (r *recorder) DeleteAttr(string) uint32      { return abi.StatusOK }
func (r *recorder) ArmTimer(uint32, int64) uint32 { return abi.StatusOK }
func (r *recorder) Log(_ uint32, m string)        { r.logs = append(r.logs, m) }
func (r *recorder) reset()                        { *r = recorder{} }

// withHandlers registers h and installs r as the host until tb ends.
func withHandlers(tb testing.TB, h Handlers, r *recorder) {
	tb.Helper()
	H = h
	SetFake(r)
	tb.Cleanup(func() {
		H = Handlers{}
		SetFake(nil)
	})
}

// encode returns the batch encoding of msgs.
func encode(msgs ...msg) []byte {
	b := abi.AppendBatchHeader(nil)
	for _, m := range msgs {
		b = abi.AppendBatchMessage(b, m.flags, []byte(m.data))
	}
	return b
}

func equalMsgs(got, want []msg) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestBatchDefaults: with no handlers registered, a batch is delivered
// (inbound) or written (outbound) message by message, in order, flags
// kept.
func TestBatchDefaults(t *testing.T) {
	r := &recorder{}
	withHandlers(t, Handlers{}, r)
	msgs := []msg{{0, "a"}, {abi.FlagBinary, "\x00\xff"}, {0, ""}, {0, "d"}}
	b := encode(msgs...)
	if s := DispatchInboundBatch(uint32(len(msgs)), b); s != abi.StatusOK {
		t.Fatalf("inbound status %d", s)
	}
	if s := DispatchOutboundBatch(uint32(len(msgs)), encode(msgs...)); s != abi.StatusOK {
		t.Fatalf("outbound status %d", s)
	}
	if !equalMsgs(r.delivered, msgs) || !equalMsgs(r.written, msgs) {
		t.Fatalf("delivered %v, written %v", r.delivered, r.written)
	}
	if p := abi.BatchProgress(b); p != uint32(len(msgs)-1) {
		t.Fatalf("progress word = %d, want the last index", p)
	}
}

// TestBatchHandlers: the registered handlers see every message in order;
// the first error, or panic, stops the batch with the guest error status
// and leaves the failed message's index in the progress word; a handler
// that closes the socket ends the batch after its message.
func TestBatchHandlers(t *testing.T) {
	r := &recorder{}
	withHandlers(t, Handlers{
		Inbound: func(m Message) error {
			switch string(m.Data) {
			case "fail":
				return errors.New("refused")
			case "panic":
				panic("boom")
			case "close":
				return Close(4000, "bye")
			case "append":
				// Appending to Data must not overwrite the next message.
				_ = append(m.Data, "XXXXXXXX"...)
			}
			return Deliver(m.Binary, m.Data)
		},
	}, r)
	tests := []struct {
		name     string
		in       []msg
		status   uint32
		progress uint32
		want     []msg
		closes   int
	}{
		{"all", []msg{{0, "a"}, {0, "append"}, {0, "c"}}, abi.StatusOK, 2, []msg{{0, "a"}, {0, "append"}, {0, "c"}}, 0},
		{"error stops", []msg{{0, "a"}, {0, "fail"}, {0, "c"}}, abi.StatusGuestError, 1, []msg{{0, "a"}}, 0},
		{"panic stops", []msg{{0, "a"}, {0, "b"}, {0, "panic"}, {0, "d"}}, abi.StatusGuestError, 2, []msg{{0, "a"}, {0, "b"}}, 0},
		{"close stops", []msg{{0, "close"}, {0, "b"}}, abi.StatusOK, 0, nil, 1},
		{"empty", nil, abi.StatusOK, 0, nil, 0},
	}
	for _, tc := range tests {
		r.reset()
		b := encode(tc.in...)
		s := DispatchInboundBatch(uint32(len(tc.in)), b)
		if s != tc.status || abi.BatchProgress(b) != tc.progress || !equalMsgs(r.delivered, tc.want) || r.closes != tc.closes {
			t.Errorf("%s: status %d progress %d delivered %v closes %d; want %d %d %v %d",
				tc.name, s, abi.BatchProgress(b), r.delivered, r.closes, tc.status, tc.progress, tc.want, tc.closes)
		}
	}
	// A batch after one that closed starts afresh.
	r.reset()
	if s := DispatchInboundBatch(2, encode(msg{0, "x"}, msg{0, "y"})); s != abi.StatusOK || len(r.delivered) != 2 {
		t.Fatalf("status %d, delivered %v", s, r.delivered)
	}
}

// TestBatchMalformed: a batch that does not match its count is refused
// with StatusBadArgument before any handler runs.
func TestBatchMalformed(t *testing.T) {
	r := &recorder{}
	withHandlers(t, Handlers{}, r)
	good := encode(msg{0, "a"}, msg{0, "b"})
	for name, tc := range map[string]struct {
		b     []byte
		count uint32
	}{
		"count too high": {good, 3},
		"count too low":  {good, 1},
		"truncated":      {good[:len(good)-1], 2},
		"no header":      {nil, 0},
	} {
		r.reset()
		if s := DispatchInboundBatch(tc.count, tc.b); s != abi.StatusBadArgument || len(r.delivered) != 0 {
			t.Errorf("%s: status %d, delivered %v", name, s, r.delivered)
		}
	}
}

// FuzzDispatchBatch feeds the SDK's batch dispatch arbitrary input: it
// never panics; it succeeds exactly when abi.ReadBatch accepts the input,
// and then the default handler has delivered every message, in order.
func FuzzDispatchBatch(f *testing.F) {
	f.Add(encode(msg{0, "a"}, msg{abi.FlagBinary, "bc"}), uint32(2))
	f.Add(encode(), uint32(0))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}, uint32(1))
	r := &recorder{}
	withHandlers(f, Handlers{}, r)
	f.Fuzz(func(t *testing.T, b []byte, count uint32) {
		r.reset()
		in := bytes.Clone(b)
		s := DispatchInboundBatch(count, in)
		rd, err := abi.ReadBatch(b, count)
		if (err == nil) != (s == abi.StatusOK) {
			t.Fatalf("status %d, ReadBatch %v", s, err)
		}
		if err != nil {
			if len(r.delivered) != 0 {
				t.Fatalf("a malformed batch delivered %v", r.delivered)
			}
			return
		}
		var want []msg
		for {
			fl, data, ok := rd.Next()
			if !ok {
				break
			}
			want = append(want, msg{fl & abi.FlagBinary, string(data)})
		}
		if !equalMsgs(r.delivered, want) {
			t.Fatalf("delivered %v, want %v", r.delivered, want)
		}
	})
}
