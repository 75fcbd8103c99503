package harness_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgews/edgews/transcoders/buildwasm"
	"github.com/edgews/edgews/transcoders/builtin"
	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/harness"
)

// Example drives the embedded Socket.IO transcoder through one EIO=4
// socket: the open packet, a namespace connect and an event.
func Example() {
	ctx := context.Background()
	h, err := harness.Load(ctx, builtin.SocketIO(), harness.Options{CacheDir: buildwasm.TestCacheDir()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1", Path: "/socket.io/", RawQuery: "EIO=4&transport=websocket"})
	if err := s.Open(); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Inbound(false, []byte("40"))
	_ = s.Inbound(false, []byte(`42["hello","world"]`))
	for _, f := range s.Frames() {
		fmt.Println("frame:", f)
	}
	for _, d := range s.Deliveries() {
		fmt.Println("delivered:", d)
	}
	fmt.Println("timers:", s.Timers())
	// Output:
	// frame: text "0{\"sid\":\"s1\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"
	// frame: text "40{\"sid\":\"s1#/\"}"
	// delivered: text "{\"namespace\":\"/\",\"event\":\"hello\",\"args\":[\"world\"]}"
	// timers: map[1:25s]
}

func TestLoadFileAndAdvance(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "socketio.wasm")
	if err := os.WriteFile(path, builtin.SocketIO(), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := harness.LoadFile(context.Background(), path, harness.Options{
		CacheDir: buildwasm.TestCacheDir(),
		Config:   wasmhost.ModuleConfig{GuestConfig: `{"pingInterval":100,"pingTimeout":50}`},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s", RawQuery: "EIO=4&transport=websocket"})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	if err := s.Inbound(false, []byte("40")); err != nil {
		t.Fatal(err)
	}
	s.TakeFrames()
	// Two ping intervals answered, then silence: the socket is closed.
	for i := 0; i < 2; i++ {
		if err := s.Advance(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if f := s.TakeFrames(); len(f) != 1 || string(f[0].Data) != "2" {
			t.Fatalf("ping %d: %v", i, f)
		}
		if err := s.Inbound(false, []byte("3")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Advance(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c := s.Closes(); len(c) != 1 || c[0].Code != 4000 {
		t.Fatalf("closes = %v", c)
	}
	if ids := s.TimerIDs(); len(ids) != 0 {
		t.Fatalf("timers left: %v", ids)
	}
	if _, err := harness.LoadFile(context.Background(), filepath.Join(t.TempDir(), "missing.wasm"), harness.Options{}); err == nil {
		t.Fatal("loaded a missing file")
	}
}

// ExampleSocket_InboundBatch passes the frames of one read to the embedded
// Socket.IO transcoder in one call, as the server does: its handler runs
// for each message, in order, and the module counts one batch call.
func ExampleSocket_InboundBatch() {
	ctx := context.Background()
	h, err := harness.Load(ctx, builtin.SocketIO(), harness.Options{CacheDir: buildwasm.TestCacheDir()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1", RawQuery: "EIO=4&transport=websocket"})
	if err := s.Open(); err != nil {
		fmt.Println(err)
		return
	}
	err = s.InboundBatch([]harness.Frame{
		{Data: []byte("40")},
		{Data: []byte(`42["hello","world"]`)},
		{Data: []byte(`42["bye"]`)},
	})
	fmt.Println("err:", err)
	for _, d := range s.Deliveries() {
		fmt.Println("delivered:", d)
	}
	st := h.Module().Stats()
	fmt.Println("batch calls:", st.BatchCalls, "messages:", st.BatchMessages)
	// Output:
	// err: <nil>
	// delivered: text "{\"namespace\":\"/\",\"event\":\"hello\",\"args\":[\"world\"]}"
	// delivered: text "{\"namespace\":\"/\",\"event\":\"bye\",\"args\":[]}"
	// batch calls: 1 messages: 3
}

// TestCompare measures the identity transcoder against the Socket.IO one,
// whose outbound path parses and re-encodes a JSON event (many times the
// work of passing it through), both ways round: the ratio must point the
// right way and agree with the medians.
func TestCompare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := harness.CompareOptions{
		CacheDir: buildwasm.TestCacheDir(),
		Socket:   wasmhost.SocketInfo{ID: "c1", Path: "/socket.io/", RawQuery: "EIO=4&transport=websocket"},
		Message:  []byte(`{"namespace":"/","event":"news","args":[{"n":1,"s":"abcdefghijklmnopqrstuvwxyz"},[1,2,3]]}`),
		Batch:    4, Rounds: 6, Calls: 5,
	}
	id, sio := builtin.Identity(), builtin.SocketIO()
	for _, tc := range []struct {
		name   string
		a, b   []byte
		slower bool // B is the slower one outbound
	}{{"identity-vs-socketio", id, sio, true}, {"socketio-vs-identity", sio, id, false}} {
		res, err := harness.Compare(ctx, tc.a, tc.b, o)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Rounds != o.Rounds || len(res.Directions) != 2 || res.Directions[1].Direction != "outbound" {
			t.Fatalf("%s: %+v", tc.name, res)
		}
		out := res.Directions[1]
		t.Logf("%s outbound: A %.0f ns/msg, B %.0f ns/msg, B/A %.2f (%.2f-%.2f)", tc.name, out.AMedian, out.BMedian, out.RatioMed, out.RatioP25, out.RatioP75)
		if out.RatioP25 > out.RatioMed || out.RatioMed > out.RatioP75 {
			t.Errorf("%s: quartiles out of order: %+v", tc.name, out)
		}
		if tc.slower && (out.RatioMed < 2 || out.BMedian < 2*out.AMedian) || !tc.slower && (out.RatioMed > 0.5 || out.AMedian < 2*out.BMedian) {
			t.Errorf("%s: B/A = %.2f (A %.0f, B %.0f ns/msg), want B %s", tc.name, out.RatioMed, out.AMedian, out.BMedian, map[bool]string{true: "slower", false: "faster"}[tc.slower])
		}
	}
}
