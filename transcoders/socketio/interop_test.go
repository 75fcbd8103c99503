//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/edgews/edgews/wasmhost"
)

// TestRealClients runs socket.io-client@2 and @4 (Node.js) against the
// module through a small WebSocket bridge on loopback. It needs node and a
// node_modules directory with the two clients installed under the aliases
// sio2 and sio4, named by EDGEWS_SIO_CLIENTS:
//
//	npm install --prefix DIR sio2@npm:socket.io-client@2.5.0 sio4@npm:socket.io-client@4.8.4
//	EDGEWS_SIO_CLIENTS=DIR/node_modules go test -run TestRealClients ./transcoders/socketio
//
// Without them it skips: the server's end-to-end suite runs the same
// clients against the real server.
func TestRealClients(t *testing.T) {
	modules := os.Getenv("EDGEWS_SIO_CLIENTS")
	node, err := exec.LookPath("node")
	if modules == "" || err != nil {
		t.Skip("set EDGEWS_SIO_CLIENTS to a node_modules with sio2 and sio4 (see the test's doc) and install node")
	}
	const pingMS = 300
	wasm, rt := module(t)
	mod, err := rt.Load(context.Background(), "socketio", wasm, wasmhost.ModuleConfig{
		GuestConfig: `{"pingInterval":` + strconv.Itoa(pingMS) + `,"pingTimeout":200}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upgrader := websocket.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	var id int
	var idMu sync.Mutex
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		query := string(ctx.QueryArgs().QueryString())
		idMu.Lock()
		id++
		sid := "sock" + strconv.Itoa(id)
		idMu.Unlock()
		_ = upgrader.Upgrade(ctx, func(c *websocket.Conn) {
			b := &bridge{t: t, mod: mod, ws: c, attrs: map[string][]byte{}, events: make(chan func(), 64)}
			b.run(wasmhost.SocketInfo{ID: sid, Path: "/socket.io/", RawQuery: query})
		})
	}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown()

	for _, ver := range []string{"2", "4"} {
		t.Run("socket.io-client@"+ver, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "testdata/interop.js")
			cmd.Env = append(os.Environ(), "VER="+ver, "URL=http://"+ln.Addr().String(), "NODE_PATH="+modules, "PING_MS="+strconv.Itoa(pingMS))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("client %s: %v\n%s", ver, err, out)
			}
		})
	}
}

// bridge runs one socket: it serialises the module's calls on one
// goroutine, like the server, and plays a listener that echoes events and
// exercises acknowledgements in both directions.
type bridge struct {
	t      *testing.T
	mod    *wasmhost.Module
	ws     *websocket.Conn
	attrs  map[string][]byte
	events chan func()

	delivered [][]byte
	closing   bool
	timers    map[uint32]*time.Timer
	done      chan struct{}
}

func (b *bridge) run(info wasmhost.SocketInfo) {
	b.timers = map[uint32]*time.Timer{}
	b.done = make(chan struct{})
	defer close(b.done)
	ctx := context.Background()
	b.call(func() error { return b.mod.Open(ctx, b, info) })
	go func() {
		for {
			typ, data, err := b.ws.ReadMessage()
			if err != nil {
				select {
				case b.events <- nil:
				case <-b.done:
				}
				return
			}
			select {
			case b.events <- func() { b.call(func() error { return b.mod.Inbound(ctx, b, typ == websocket.BinaryMessage, data) }) }:
			case <-b.done:
				return
			}
		}
	}()
	for ev := range b.events {
		if ev == nil || b.closing {
			break
		}
		ev()
	}
	for _, tm := range b.timers {
		tm.Stop()
	}
	_ = b.mod.Closed(ctx, b, 1000, "")
}

// call runs one module call, then the listener's reactions to what it
// delivered, each as an Outbound call.
func (b *bridge) call(f func() error) {
	if err := f(); err != nil {
		b.t.Errorf("bridge: %v", err)
		b.closing = true
		return
	}
	for len(b.delivered) > 0 {
		d := b.delivered[0]
		b.delivered = b.delivered[1:]
		for _, reply := range listener(d) {
			if err := b.mod.Outbound(context.Background(), b, false, reply); err != nil {
				b.t.Errorf("bridge: outbound: %v", err)
			}
		}
	}
	if b.closing {
		_ = b.ws.Close()
	}
}

func listener(msg []byte) [][]byte {
	var m struct {
		Namespace string            `json:"namespace"`
		Event     *string           `json:"event"`
		Args      []json.RawMessage `json:"args"`
		Ack       *int64            `json:"ack"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return nil
	}
	enc := func(v any) []byte { b, _ := json.Marshal(v); return b }
	type out struct {
		Namespace string            `json:"namespace"`
		Event     string            `json:"event,omitempty"`
		Args      []json.RawMessage `json:"args"`
		Ack       *int64            `json:"ack,omitempty"`
	}
	if m.Event == nil { // the client's ack of our question
		return [][]byte{enc(out{Namespace: m.Namespace, Event: "got-ack", Args: m.Args})}
	}
	switch *m.Event {
	case "echo":
		replies := [][]byte{enc(out{Namespace: m.Namespace, Event: "echo", Args: m.Args})}
		if m.Ack != nil {
			args := append([]json.RawMessage{json.RawMessage(`"echo-ack"`)}, m.Args...)
			replies = append(replies, enc(out{Namespace: m.Namespace, Args: args, Ack: m.Ack}))
		}
		return replies
	case "ask":
		id := int64(77)
		return [][]byte{enc(out{Namespace: m.Namespace, Event: "question", Args: []json.RawMessage{json.RawMessage(`"q?"`)}, Ack: &id})}
	case "plain":
		return [][]byte{[]byte("hello plain")}
	}
	return nil
}

func (b *bridge) WriteFrame(binary bool, data []byte) error {
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	return b.ws.WriteMessage(typ, data)
}

func (b *bridge) Deliver(_ bool, data []byte) error {
	b.delivered = append(b.delivered, append([]byte(nil), data...))
	return nil
}

func (b *bridge) Close(code uint16, reason string) {
	_ = b.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(int(code), reason))
	b.closing = true
}

func (b *bridge) Attr(key string) ([]byte, bool) { v, ok := b.attrs[key]; return v, ok }

func (b *bridge) SetAttr(key string, value []byte) {
	if value == nil {
		delete(b.attrs, key)
		return
	}
	b.attrs[key] = append([]byte(nil), value...)
}

func (b *bridge) ArmTimer(id uint32, after time.Duration) {
	if tm, ok := b.timers[id]; ok {
		tm.Stop()
		delete(b.timers, id)
	}
	if after <= 0 {
		return
	}
	b.timers[id] = time.AfterFunc(after, func() {
		select {
		case b.events <- func() { b.call(func() error { return b.mod.Timer(context.Background(), b, id) }) }:
		case <-b.done:
		}
	})
}
