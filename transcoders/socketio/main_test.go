//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/edgews/edgews/guest-sdk/guesttest"
	"github.com/edgews/edgews/transcoders/buildwasm"
	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/harness"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts under testdata/")

// A scenario is a socket's life as a list of steps. Its transcript (what
// went in, what came out, the armed timers) is compared with
// testdata/<name>.golden, once with the handlers running natively and once
// with the built .wasm running in the real host: both must match it.
type scenario struct {
	name   string
	query  string
	config string
	steps  []step
}

type step struct {
	kind string // "in", "bin", "out", "outbin", "advance", "closed"
	data string
	d    time.Duration
}

func in(s string) step             { return step{kind: "in", data: s} }
func out(s string) step            { return step{kind: "out", data: s} }
func advance(d time.Duration) step { return step{kind: "advance", d: d} }
func bin(s string) step            { return step{kind: "bin", data: s} }
func outbin(s string) step         { return step{kind: "outbin", data: s} }
func closed(code int, r string) step {
	return step{kind: "closed", data: fmt.Sprintf("%d %s", code, r)}
}

const fast = `{"pingInterval":1000,"pingTimeout":500,"connectTimeout":3000}`

var scenarios = []scenario{
	{name: "v4_events", query: "EIO=4&transport=websocket&session=abc", steps: []step{
		in("40"),
		in(`42["chat","hi",{"n":1}]`),
		in(`421["question",1]`),
		out(`{"namespace":"/","event":"news","args":["x",2]}`),
		out(`{"event":"ask","args":[],"ack":5}`),
		in(`435["answer"]`),
		out(`{"namespace":"/","ack":1,"args":["reply"]}`),
		out(`plain "text" message`),
		out(`{"foo":1}`),
		outbin("\x01\x02"),
		in("41"),
		out("after disconnect"),
		closed(1000, ""),
	}},
	{name: "v4_namespaces", query: "EIO=4&transport=websocket", steps: []step{
		in(`40/admin,{"token":"t"}`),
		in(`42/admin,["e",true]`),
		out(`{"namespace":"/admin","event":"news","args":[1]}`),
		out(`{"namespace":"/","event":"dropped"}`),
		out("dropped too: / is not connected"),
		in("40"),
		in(`43/admin,7["ok"]`),
		in("41/admin,"),
		in(`42/admin,["late"]`),
	}},
	{name: "v4_heartbeat", query: "EIO=4&transport=websocket", config: fast, steps: []step{
		in("40"),
		advance(1000 * time.Millisecond),
		in("3"),
		advance(1000 * time.Millisecond),
		in("3"),
		advance(1000 * time.Millisecond),
		in("3"),
		advance(1000 * time.Millisecond),
		advance(600 * time.Millisecond),
	}},
	{name: "v4_connect_timeout", query: "EIO=4&transport=websocket", config: fast, steps: []step{
		advance(1000 * time.Millisecond),
		in("3"),
		advance(1000 * time.Millisecond),
		in("3"),
		advance(1000 * time.Millisecond),
	}},
	{name: "v3_events", query: "EIO=3&transport=websocket", steps: []step{
		in("2probe"),
		in(`42["chat","hi"]`),
		in(`42/admin,["early"]`),
		in("40/admin?token=abc,"),
		in(`42/admin,9["q",{"a":[1]}]`),
		out(`{"namespace":"/admin","ack":9,"args":["fine"]}`),
		out(`{"event":"news","args":["n"],"ack":2}`),
		in(`432["thanks"]`),
		out("plain text"),
		in("1"),
	}},
	{name: "v3_heartbeat", query: "EIO=3&transport=websocket", config: fast, steps: []step{
		in("2"),
		advance(1400 * time.Millisecond),
		in("2"),
		advance(1400 * time.Millisecond),
		in(`42["still","here"]`),
		advance(1600 * time.Millisecond),
	}},
	{name: "v4_namespace_limits", query: "EIO=4&transport=websocket", steps: namespaceLimits("4")},
	{name: "v3_namespace_limits", query: "EIO=3&transport=websocket", steps: namespaceLimits("3")},
	{name: "refuse_eio5", query: "EIO=5&transport=websocket"},
	{name: "refuse_no_eio", query: "transport=websocket"},
	{name: "refuse_polling", query: "EIO=4&transport=polling"},
	{name: "refuse_binary_frame", query: "EIO=4&transport=websocket", steps: []step{in("40"), bin("\x04\x01\x02")}},
	{name: "refuse_attachments", query: "EIO=3&transport=websocket", steps: []step{in(`451-["up",{"_placeholder":true,"num":0}]`)}},
	{name: "refuse_garbage", query: "EIO=4&transport=websocket", steps: []step{in("abc")}},
	{name: "refuse_bad_event", query: "EIO=4&transport=websocket", steps: []step{in("40"), in(`42[1,2]`)}},
	{name: "refuse_reserved_event", query: "EIO=4&transport=websocket", steps: []step{in("40"), in(`42["disconnect"]`)}},
	{name: "refuse_unconnected", query: "EIO=4&transport=websocket", steps: []step{in(`42["before connect"]`)}},
	{name: "refuse_too_big", query: "EIO=4&transport=websocket", config: `{"maxPayload":16}`, steps: []step{in("40"), in(`42["this is too long"]`)}},
}

// namespaceLimits connects a namespace with a name that is too long, then
// namespaces up to the limit (counting the default one, which EIO=3
// connects implicitly, EIO=4 explicitly), then one more: the first and the
// last get CONNECT_ERROR, and the socket stays usable.
func namespaceLimits(v string) []step {
	steps := []step{in("40/" + strings.Repeat("x", maxNamespaceLen) + ",")}
	if v == "4" {
		steps = append(steps, in("40"))
	}
	for i := 1; i < maxNamespaces; i++ {
		steps = append(steps, in(fmt.Sprintf("40/n%d,", i)))
	}
	return append(steps, in("40/one-too-many,"), in(`42/n63,["still","here"]`))
}

// socket is what a scenario drives: a guesttest.Host or a harness.Socket.
type socket interface {
	inbound(binary bool, data []byte) error
	outbound(binary bool, data []byte) error
	advance(d time.Duration) error
	closed(code uint16, reason string) error
	take() (frames, deliveries []string, closes []string)
	timers() map[uint32]time.Duration
}

func frameString(binary bool, data []byte) string {
	if binary {
		return fmt.Sprintf("binary %x", data)
	}
	return "text " + string(data)
}

type nativeSocket struct {
	h      *guesttest.Host
	closes int
}

func (n *nativeSocket) inbound(b bool, d []byte) error   { return n.h.Inbound(b, d) }
func (n *nativeSocket) outbound(b bool, d []byte) error  { return n.h.Outbound(b, d) }
func (n *nativeSocket) advance(d time.Duration) error    { return n.h.Advance(d) }
func (n *nativeSocket) closed(c uint16, r string) error  { return n.h.Close(c, r) }
func (n *nativeSocket) timers() map[uint32]time.Duration { return n.h.Timers() }
func (n *nativeSocket) take() (f, d, c []string) {
	for _, x := range n.h.TakeFrames() {
		f = append(f, frameString(x.Binary, x.Data))
	}
	for _, x := range n.h.TakeDeliveries() {
		d = append(d, frameString(x.Binary, x.Data))
	}
	all := n.h.Closes()
	for _, x := range all[n.closes:] {
		c = append(c, fmt.Sprintf("%d %s", x.Code, x.Reason))
	}
	n.closes = len(all)
	return f, d, c
}

type wasmSocket struct {
	s      *harness.Socket
	closes int
}

func (w *wasmSocket) inbound(b bool, d []byte) error   { return w.s.Inbound(b, d) }
func (w *wasmSocket) outbound(b bool, d []byte) error  { return w.s.Outbound(b, d) }
func (w *wasmSocket) advance(d time.Duration) error    { return w.s.Advance(d) }
func (w *wasmSocket) closed(c uint16, r string) error  { return w.s.Close(c, r) }
func (w *wasmSocket) timers() map[uint32]time.Duration { return w.s.Timers() }
func (w *wasmSocket) take() (f, d, c []string) {
	for _, x := range w.s.TakeFrames() {
		f = append(f, frameString(x.Binary, x.Data))
	}
	for _, x := range w.s.TakeDeliveries() {
		d = append(d, frameString(x.Binary, x.Data))
	}
	all := w.s.Closes()
	for _, x := range all[w.closes:] {
		c = append(c, fmt.Sprintf("%d %s", x.Code, x.Reason))
	}
	w.closes = len(all)
	return f, d, c
}

// transcript runs the scenario on s (already opened) and writes what
// happened after the open and after each step.
func transcript(t *testing.T, sc scenario, s socket, openErr error) string {
	t.Helper()
	var b strings.Builder
	record := func(err error) {
		f, d, c := s.take()
		for _, x := range f {
			fmt.Fprintf(&b, "  < %s\n", x)
		}
		for _, x := range d {
			fmt.Fprintf(&b, "  = deliver %s\n", x)
		}
		for _, x := range c {
			fmt.Fprintf(&b, "  ! close %s\n", x)
		}
		if err != nil {
			fmt.Fprintf(&b, "  error %v\n", err)
		}
		tm := s.timers()
		ids := make([]int, 0, len(tm))
		for id := range tm {
			ids = append(ids, int(id))
		}
		sort.Ints(ids)
		var parts []string
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%d:%v", id, tm[uint32(id)]))
		}
		fmt.Fprintf(&b, "  timers [%s]\n", strings.Join(parts, " "))
	}
	fmt.Fprintf(&b, "open ?%s config %s\n", sc.query, sc.config)
	record(openErr)
	for _, st := range sc.steps {
		var err error
		switch st.kind {
		case "in":
			fmt.Fprintf(&b, "> %s\n", st.data)
			err = s.inbound(false, []byte(st.data))
		case "bin":
			fmt.Fprintf(&b, "> binary %x\n", st.data)
			err = s.inbound(true, []byte(st.data))
		case "out":
			fmt.Fprintf(&b, "out %s\n", st.data)
			err = s.outbound(false, []byte(st.data))
		case "outbin":
			fmt.Fprintf(&b, "out binary %x\n", st.data)
			err = s.outbound(true, []byte(st.data))
		case "advance":
			fmt.Fprintf(&b, "advance %v\n", st.d)
			err = s.advance(st.d)
		case "closed":
			fmt.Fprintf(&b, "closed %s\n", st.data)
			var code uint16
			var reason string
			fmt.Sscanf(st.data, "%d %s", &code, &reason)
			err = s.closed(code, reason)
		}
		record(err)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("transcript differs from %s\n--- got\n%s--- want\n%s", path, got, want)
	}
}

var info = guesttest.OpenInfo{SocketID: "s1", Path: "/socket.io/", User: "3", Context: "1"}

// TestScenariosNative runs the handlers as plain Go. The handlers of a
// process are shared (like one instance), so scenarios run one by one.
func TestScenariosNative(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			h := guesttest.New(t, sc.config)
			oi := info
			oi.Query = stripSession(sc.query)
			err := h.Open(oi)
			checkGolden(t, sc.name, transcript(t, sc, &nativeSocket{h: h}, err))
		})
	}
}

// stripSession does what the host does to the query the guest sees.
func stripSession(q string) string {
	var kept []string
	for _, p := range strings.Split(q, "&") {
		if !strings.HasPrefix(p, "session=") {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

var (
	wasmOnce sync.Once
	wasmMod  []byte
	wasmErr  error
	wasmRT   *wasmhost.Runtime
)

// module builds socketio.wasm once per test binary.
func module(t *testing.T) ([]byte, *wasmhost.Runtime) {
	t.Helper()
	wasmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "socketio-test-")
		if err != nil {
			wasmErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "socketio.wasm")
		if wasmErr = buildwasm.Build(".", ".", out); wasmErr != nil {
			return
		}
		if wasmMod, wasmErr = os.ReadFile(out); wasmErr != nil {
			return
		}
		wasmRT, wasmErr = wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeConfig{CacheDir: buildwasm.TestCacheDir()})
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	return wasmMod, wasmRT
}

// TestScenariosWasm runs the built module in the real host.
func TestScenariosWasm(t *testing.T) {
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
			s := h.NewSocket(wasmhost.SocketInfo{ID: info.SocketID, Path: info.Path, User: info.User, Context: info.Context, RawQuery: sc.query, SessionID: "abc"})
			err = s.Open()
			checkGolden(t, sc.name, transcript(t, sc, &wasmSocket{s: s}, err))
		})
	}
}

// TestManySocketsOneModule interleaves sockets of both versions on a pool
// of two instances: state lives in attributes, so any instance serves any
// socket.
func TestManySocketsOneModule(t *testing.T) {
	t.Parallel()
	wasm, rt := module(t)
	h, err := harness.Load(context.Background(), wasm, harness.Options{Runtime: rt, Config: wasmhost.ModuleConfig{MaxInstances: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var socks []*harness.Socket
	for i := 0; i < 6; i++ {
		q := "EIO=4&transport=websocket"
		if i%2 == 1 {
			q = "EIO=3&transport=websocket"
		}
		s := h.NewSocket(wasmhost.SocketInfo{ID: fmt.Sprintf("s%d", i), RawQuery: q})
		if err := s.Open(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.Inbound(false, []byte("40")); err != nil {
				t.Fatal(err)
			}
		}
		socks = append(socks, s)
	}
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				msg := fmt.Sprintf(`42["n",%d,%d]`, i, j)
				if err := s.Inbound(false, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, s := range socks {
		d := s.Deliveries()
		if len(d) != 50 {
			t.Fatalf("socket %d: %d deliveries", i, len(d))
		}
		for j, x := range d {
			want := fmt.Sprintf(`{"namespace":"/","event":"n","args":[%d,%d]}`, i, j)
			if !bytes.Equal(x.Data, []byte(want)) {
				t.Fatalf("socket %d delivery %d = %s, want %s", i, j, x.Data, want)
			}
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"":                   true,
		`{"pingInterval":5}`: true,
		`{"pingInterval":0}`: false,
		`{"pingIntervl":5}`:  false,
		`{"maxPayload":"1"}`: false,
		`[1]`:                false,
	} {
		if _, err := parseConfig(in); (err == nil) != ok {
			t.Errorf("parseConfig(%s) err = %v", in, err)
		}
	}
}

// FuzzInbound feeds arbitrary frames to an open socket of either version:
// the transcoder must answer every one by delivering, replying, ignoring
// or closing the socket, and never fail the call.
func FuzzInbound(f *testing.F) {
	for _, s := range []string{"40", `42["a",1]`, `421["q"]`, `43/x,1[]`, "2probe", "3", "1", `451-["x"]`, "40/admin?x=1,", "abc", ""} {
		f.Add(false, s, true)
		f.Add(true, s, false)
	}
	f.Fuzz(func(t *testing.T, v3 bool, frame string, binary bool) {
		if !binary && !utf8.ValidString(frame) {
			return // the server passes only valid UTF-8 as text (RFC 6455)
		}
		h, err := guesttest.TryNew("")
		if err != nil {
			t.Fatal(err)
		}
		q := "EIO=4&transport=websocket"
		if v3 {
			q = "EIO=3&transport=websocket"
		}
		if err := h.Open(guesttest.OpenInfo{SocketID: "f", Query: q}); err != nil {
			t.Fatal(err)
		}
		if err := h.Inbound(binary, []byte(frame)); err != nil {
			t.Fatalf("inbound %q: %v", frame, err)
		}
		if err := h.Outbound(binary, []byte(frame)); err != nil {
			t.Fatalf("outbound %q: %v", frame, err)
		}
		for _, d := range h.Deliveries() {
			if !json.Valid(d.Data) {
				t.Fatalf("delivery %s is not JSON", d.Data)
			}
		}
	})
}
