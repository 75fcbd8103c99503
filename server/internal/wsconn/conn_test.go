package wsconn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgews/edgews/server/internal/netpoll"
	"github.com/edgews/edgews/server/internal/wsproto"
)

// frame is a frame as the test client sees it.
type frame struct {
	fin  bool
	rsv1 bool
	op   byte
	data []byte
}

// client is a raw WebSocket client over a TCP connection (no handshake: the
// tests wrap the server side directly).
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (c *client) send(fin bool, op byte, payload []byte) {
	c.sendRaw(wsproto.AppendClientFrame(nil, fin, op, 0, [4]byte{1, 2, 3, 4}, payload))
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

// read returns the next server frame, or an error (io.EOF when the server
// closed TCP).
func (c *client) read() (frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return frame{}, err
	}
	if h[1]&0x80 != 0 {
		return frame{}, fmt.Errorf("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(c.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(c.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return frame{}, err
	}
	return frame{fin: h[0]&0x80 != 0, rsv1: h[0]&0x40 != 0, op: h[0] & 0x0f, data: data}, nil
}

func (c *client) expect(op byte) frame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("reading frame: %v", err)
	}
	if f.op != op {
		c.t.Fatalf("got opcode %d (%q), want %d", f.op, f.data, op)
	}
	return f
}

func (c *client) expectClose(code uint16) {
	c.t.Helper()
	f := c.expect(wsproto.OpClose)
	if got := binary.BigEndian.Uint16(f.data); got != code {
		c.t.Fatalf("close code %d (%q), want %d", got, f.data[2:], code)
	}
}

func (c *client) expectEOF() {
	c.t.Helper()
	f, err := c.read()
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("expected EOF, got frame %+v err %v", f, err)
	}
}

// recorder is a Handler that records and optionally echoes.
type recorder struct {
	echo   bool
	mu     sync.Mutex
	msgs   []string
	closed chan closeInfo
}

type closeInfo struct {
	code   uint16
	reason string
	cause  string
}

func (r *recorder) OnMessage(c *Conn, op byte, data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(data))
	r.mu.Unlock()
	if r.echo {
		_ = c.Write(op, data)
	}
}

func (r *recorder) OnReadEnd(c *Conn) {}

func (r *recorder) OnClose(c *Conn, code uint16, reason, cause string) {
	r.closed <- closeInfo{code, reason, cause}
}

func (r *recorder) waitClose(t *testing.T) closeInfo {
	t.Helper()
	select {
	case ci := <-r.closed:
		return ci
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called")
		return closeInfo{}
	}
}

var (
	pollerOnce sync.Once
	poller     *netpoll.Poller
)

func testPoller(t *testing.T) *netpoll.Poller {
	pollerOnce.Do(func() {
		p, err := netpoll.New(netpoll.Config{Workers: 2})
		if err == nil {
			poller = p
		}
	})
	return poller
}

// modes runs a test with the epoll driver and with a reading goroutine.
func modes(t *testing.T, f func(t *testing.T, p *netpoll.Poller)) {
	t.Run("poll", func(t *testing.T) {
		t.Parallel()
		p := testPoller(t)
		if p == nil {
			t.Skip("no poller on this platform; the goroutine mode covers it")
		}
		f(t, p)
	})
	t.Run("goroutine", func(t *testing.T) {
		t.Parallel()
		f(t, nil)
	})
}

func baseConfig() *Config {
	return &Config{
		Parser:           wsproto.ParserConfig{MaxMessage: 1 << 16},
		MaxQueueMessages: 64,
		MaxQueueBytes:    1 << 20,
		WriteTimeout:     2 * time.Second,
		CloseTimeout:     2 * time.Second,
		Stats:            &Stats{},
	}
}

func start(t *testing.T, p *netpoll.Poller, cfg *Config, h Handler, deflate *wsproto.DeflateParams) (*client, *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	conn := New(sc, cfg, deflate, h)
	conn.Serve(p, nil)
	return &client{t: t, nc: cc, br: bufio.NewReader(cc)}, conn
}

func newRecorder(echo bool) *recorder { return &recorder{echo: echo, closed: make(chan closeInfo, 1)} }

func TestEchoAndPeerClose(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		cfg := baseConfig()
		h := newRecorder(true)
		c, _ := start(t, p, cfg, h, nil)
		c.send(true, wsproto.OpText, []byte("hello"))
		if f := c.expect(wsproto.OpText); string(f.data) != "hello" || !f.fin {
			t.Fatalf("echo: %+v", f)
		}
		big := bytes.Repeat([]byte("z"), 60000)
		c.send(false, wsproto.OpBinary, big[:30000])
		c.send(true, wsproto.OpPing, []byte("p1"))
		c.send(true, wsproto.OpContinuation, big[30000:])
		if f := c.expect(wsproto.OpPong); string(f.data) != "p1" {
			t.Fatalf("pong payload %q", f.data)
		}
		if f := c.expect(wsproto.OpBinary); !bytes.Equal(f.data, big) {
			t.Fatalf("big echo mismatch (%d bytes)", len(f.data))
		}
		c.send(true, wsproto.OpClose, wsproto.ClosePayload(1000, "bye"))
		c.expectClose(1000)
		c.expectEOF() // the server drops TCP first
		ci := h.waitClose(t)
		if ci.code != 1000 || ci.reason != "bye" || ci.cause != "peer" {
			t.Fatalf("OnClose %+v", ci)
		}
		if got := cfg.Stats.MessagesIn.Load(); got != 2 {
			t.Fatalf("MessagesIn = %d", got)
		}
	})
}

func TestEmptyCloseAnsweredWith1000(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		h := newRecorder(false)
		c, _ := start(t, p, baseConfig(), h, nil)
		c.send(true, wsproto.OpClose, nil)
		c.expectClose(1000)
		c.expectEOF()
		if ci := h.waitClose(t); ci.code != wsproto.CloseNoStatus {
			t.Fatalf("OnClose code %d, want 1005", ci.code)
		}
	})
}

func TestServerClose(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		h := newRecorder(false)
		c, conn := start(t, p, baseConfig(), h, nil)
		_ = conn.Write(wsproto.OpText, []byte("last words"))
		conn.Close(4401, "session expired")
		if f := c.expect(wsproto.OpText); string(f.data) != "last words" {
			t.Fatalf("pending message not flushed before close: %q", f.data)
		}
		c.expectClose(4401)
		c.expectEOF() // FIN right after the close frame
		c.send(true, wsproto.OpClose, wsproto.ClosePayload(4401, ""))
		ci := h.waitClose(t)
		if ci.code != 4401 || ci.cause != "server" || ci.reason != "session expired" {
			t.Fatalf("OnClose %+v", ci)
		}
		if err := conn.Write(wsproto.OpText, []byte("x")); !errors.Is(err, wsproto.ErrClosed) {
			t.Fatalf("write after close: %v", err)
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name string
		send func(c *client)
		code uint16
	}{
		{"invalid utf8", func(c *client) { c.send(true, wsproto.OpText, []byte("a\xffb")) }, 1007},
		{"invalid utf8 in fragments", func(c *client) {
			c.send(false, wsproto.OpText, []byte("ok"))
			c.send(false, wsproto.OpContinuation, []byte("\xed\xa0\x80"))
		}, 1007},
		{"too big", func(c *client) { c.send(true, wsproto.OpBinary, make([]byte, 1<<16+1)) }, 1009},
		{"reserved opcode", func(c *client) { c.send(true, 5, nil) }, 1002},
		{"bad close code", func(c *client) { c.send(true, wsproto.OpClose, []byte{0x03, 0xed}) }, 1002},
		{"unmasked", func(c *client) { c.sendRaw(wsproto.AppendFrame(nil, true, wsproto.OpText, false, []byte("x"))) }, 1002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modes(t, func(t *testing.T, p *netpoll.Poller) {
				h := newRecorder(true)
				cfg := baseConfig()
				c, _ := start(t, p, cfg, h, nil)
				tt.send(c)
				c.expectClose(tt.code)
				c.expectEOF()
				c.nc.Close()
				ci := h.waitClose(t)
				if ci.code != tt.code || ci.cause != "protocol_error" {
					t.Fatalf("OnClose %+v", ci)
				}
				if cfg.Stats.ProtocolErrors.Load() != 1 {
					t.Fatal("ProtocolErrors not counted")
				}
			})
		})
	}
}

func TestPingAndPongTimeout(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		cfg := baseConfig()
		cfg.PingInterval = 50 * time.Millisecond
		cfg.PongTimeout = 50 * time.Millisecond
		h := newRecorder(false)
		c, conn := start(t, p, cfg, h, nil)
		conn.Tick(time.Now()) // not idle yet: nothing
		time.Sleep(60 * time.Millisecond)
		conn.Tick(time.Now())
		c.expect(wsproto.OpPing)
		before := conn.LastRead()
		c.send(true, wsproto.OpPong, nil) // answered: alive
		for conn.LastRead() == before {
			time.Sleep(time.Millisecond)
		}
		conn.Tick(time.Now()) // just heard from the peer: no ping, no timeout
		time.Sleep(60 * time.Millisecond)
		conn.Tick(time.Now())
		c.expect(wsproto.OpPing)
		// Not answered this time.
		time.Sleep(60 * time.Millisecond)
		conn.Tick(time.Now())
		ci := h.waitClose(t)
		if ci.cause != "ping_timeout" || ci.code != wsproto.CloseAbnormal {
			t.Fatalf("OnClose %+v", ci)
		}
		if cfg.Stats.PingTimeouts.Load() != 1 {
			t.Fatal("PingTimeouts not counted")
		}
	})
}

func TestReadTimeout(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		cfg := baseConfig()
		cfg.ReadTimeout = 100 * time.Millisecond
		h := newRecorder(false)
		c, conn := start(t, p, cfg, h, nil)
		f := wsproto.AppendClientFrame(nil, true, wsproto.OpText, 0, [4]byte{}, []byte("never finished"))
		c.sendRaw(f[:8])
		deadline := time.Now().Add(5 * time.Second)
		for conn.partialSince.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		conn.Tick(time.Now().Add(time.Second))
		c.expectClose(1008)
		c.nc.Close()
		if ci := h.waitClose(t); ci.cause != "read_timeout" {
			t.Fatalf("OnClose %+v", ci)
		}
	})
}

func TestSlowConsumer(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		t.Run("close", func(t *testing.T) {
			cfg := baseConfig()
			cfg.MaxQueueMessages = 4
			cfg.WriteTimeout = 200 * time.Millisecond
			h := newRecorder(false)
			_, conn := start(t, p, cfg, h, nil)
			msg := bytes.Repeat([]byte("x"), 64<<10)
			var err error
			for i := 0; i < 10000 && err == nil; i++ { // the client never reads
				err = conn.Write(wsproto.OpBinary, msg)
			}
			if !errors.Is(err, ErrQueueFull) && !errors.Is(err, wsproto.ErrClosed) {
				t.Fatalf("writes never refused: %v", err)
			}
			// The close frame may fit in the kernel's buffers; then the close
			// timeout (enforced by the sweeper's Tick) ends the connection.
			var ci closeInfo
			for i, done := 0, false; !done; i++ {
				if i == 200 {
					t.Fatal("OnClose not called within 10s")
				}
				conn.Tick(time.Now().Add(time.Minute))
				select {
				case ci = <-h.closed:
					done = true
				case <-time.After(50 * time.Millisecond):
				}
			}
			if ci.cause != "slow_consumer" || ci.code != wsproto.ClosePolicyViolation {
				t.Fatalf("OnClose %+v", ci)
			}
			if cfg.Stats.SlowClosed.Load() != 1 || cfg.Stats.DroppedOut.Load() == 0 {
				t.Fatalf("counters: slow %d dropped %d", cfg.Stats.SlowClosed.Load(), cfg.Stats.DroppedOut.Load())
			}
		})
		t.Run("drop oldest", func(t *testing.T) {
			cfg := baseConfig()
			cfg.MaxQueueMessages = 4
			cfg.OnFull = DropOldest
			cfg.WriteTimeout = 5 * time.Second
			h := newRecorder(false)
			c, conn := start(t, p, cfg, h, nil)
			msg := bytes.Repeat([]byte("x"), 64<<10)
			for range 200 {
				if err := conn.Write(wsproto.OpBinary, msg); err != nil {
					t.Fatalf("drop-oldest write failed: %v", err)
				}
			}
			if cfg.Stats.DroppedOut.Load() == 0 {
				t.Fatal("no drops counted")
			}
			// The socket stays usable once the client reads.
			conn.Write(wsproto.OpText, []byte("marker"))
			for {
				f := c.expect(f0op(c))
				if string(f.data) == "marker" {
					break
				}
			}
			// A write is counted once the syscall returns, which can be
			// after the client has read it: let the counters settle.
			got := uint64(0)
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if got = cfg.Stats.MessagesOut.Load() + cfg.Stats.DroppedOut.Load(); got == 201 {
					break
				}
			}
			if got != 201 {
				t.Fatalf("written %d + dropped %d != 201", cfg.Stats.MessagesOut.Load(), cfg.Stats.DroppedOut.Load())
			}
		})
	})
}

// f0op peeks the next frame's opcode so expect accepts either data type.
func f0op(c *client) byte {
	b, err := c.br.Peek(1)
	if err != nil {
		return 0xff
	}
	return b[0] & 0x0f
}

func TestCompression(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		for _, params := range []wsproto.DeflateParams{
			{ServerMaxWindowBits: 15, Level: 1},
			{ServerMaxWindowBits: 9, Level: 1, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
		} {
			cfg := baseConfig()
			h := newRecorder(true)
			c, _ := start(t, p, cfg, h, &params)
			// The client compresses with its own context (a Deflater plays the client).
			clientSide := wsproto.NewDeflater(wsproto.DeflateParams{ServerMaxWindowBits: 15, Level: 6, ServerNoContextTakeover: params.ClientNoContextTakeover})
			serverSide := wsproto.NewInflater(wsproto.DeflateParams{ClientNoContextTakeover: params.ServerNoContextTakeover})
			text := []byte(strings.Repeat("compress me please; ", 40))
			for i := range 3 {
				comp := clientSide.Compress(nil, text)
				c.sendRaw(wsproto.AppendClientFrame(nil, true, wsproto.OpText, 0x40, [4]byte{9, 8, 7, 6}, comp))
				f := c.expect(wsproto.OpText)
				if !f.rsv1 {
					t.Fatalf("round %d: echo not compressed", i)
				}
				out, err := serverSide.Inflate(nil, f.data, 1<<20)
				if err != nil || !bytes.Equal(out, text) {
					t.Fatalf("round %d: echo inflates to %q, %v", i, out, err)
				}
			}
			// A compression bomb closes with 1009.
			bomb := wsproto.NewDeflater(wsproto.DeflateParams{ServerNoContextTakeover: true, Level: 9}).Compress(nil, make([]byte, 1<<20))
			c.sendRaw(wsproto.AppendClientFrame(nil, true, wsproto.OpBinary, 0x40, [4]byte{1, 1, 1, 1}, bomb))
			c.expectClose(1009)
			c.nc.Close()
			h.waitClose(t)
		}
	})
}

func TestCloseTimeout(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		cfg := baseConfig()
		h := newRecorder(false)
		c, conn := start(t, p, cfg, h, nil)
		conn.Close(1001, "going away")
		c.expectClose(1001)
		// The client never answers; the sweeper's tick ends it.
		conn.Tick(time.Now().Add(time.Minute))
		if ci := h.waitClose(t); ci.code != 1001 || ci.cause != "server" {
			t.Fatalf("OnClose %+v", ci)
		}
	})
}

func TestAbruptDisconnect(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		h := newRecorder(false)
		c, _ := start(t, p, baseConfig(), h, nil)
		c.nc.Close()
		if ci := h.waitClose(t); ci.code != wsproto.CloseAbnormal || ci.cause != "eof" {
			t.Fatalf("OnClose %+v", ci)
		}
	})
}

// TestManyConnsHammer runs concurrent echo traffic over many connections
// to shake out races between the read path, writers and closes.
func TestManyConnsHammer(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		const conns, msgs = 20, 100
		var wg sync.WaitGroup
		for i := range conns {
			h := newRecorder(true)
			cfg := baseConfig()
			cfg.MaxQueueMessages = 1024 // a whole burst may be queued before the writer runs
			c, conn := start(t, p, cfg, h, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				go func() {
					for j := range msgs {
						c.send(true, wsproto.OpText, fmt.Appendf(nil, "%d-%d", i, j))
					}
				}()
				for j := range msgs {
					f, err := c.read()
					if err != nil || string(f.data) != fmt.Sprintf("%d-%d", i, j) {
						t.Errorf("conn %d msg %d: %q %v", i, j, f.data, err)
						return
					}
				}
				if i%2 == 0 {
					conn.Close(1000, "")
					c.expectClose(1000)
					c.send(true, wsproto.OpClose, wsproto.ClosePayload(1000, ""))
				} else {
					c.send(true, wsproto.OpClose, wsproto.ClosePayload(1000, ""))
				}
				h.waitClose(t)
			}()
		}
		wg.Wait()
	})
}

func TestControlFlood(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		cfg := baseConfig()
		cfg.MaxControlRate = 20
		cfg.MaxQueueMessages = 1000
		h := newRecorder(false)
		c, _ := start(t, p, cfg, h, nil)
		var flood []byte
		for range 200 {
			flood = wsproto.AppendClientFrame(flood, true, wsproto.OpPing, 0, [4]byte{1, 2, 3, 4}, []byte("x"))
		}
		c.sendRaw(flood)
		for {
			f, err := c.read()
			if err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if f.op == wsproto.OpClose {
				if code := binary.BigEndian.Uint16(f.data); code != 1008 {
					t.Fatalf("close %d", code)
				}
				break
			}
		}
		c.nc.Close()
		if ci := h.waitClose(t); ci.cause != "control_flood" {
			t.Fatalf("OnClose %+v", ci)
		}
		if cfg.Stats.ControlFloods.Load() != 1 || cfg.Stats.ProtocolErrors.Load() != 0 {
			t.Fatalf("counters: floods %d protocol %d", cfg.Stats.ControlFloods.Load(), cfg.Stats.ProtocolErrors.Load())
		}
	})
}

// TestWriteAfterBlockedWrite: a burst the kernel would not take goes to
// the writer goroutine, which writes under a deadline (WriteTimeout). Once
// the socket drains, writes are inline again, and they must keep working
// after that deadline has passed: a stale deadline used to fail every
// later inline write (cause write_error) one WriteTimeout after the burst.
func TestWriteAfterBlockedWrite(t *testing.T) {
	modes(t, func(t *testing.T, p *netpoll.Poller) {
		cfg := baseConfig()
		cfg.MaxQueueMessages = 1024
		cfg.MaxQueueBytes = 64 << 20
		cfg.WriteTimeout = 300 * time.Millisecond
		h := newRecorder(false)
		c, conn := start(t, p, cfg, h, nil)
		msg := bytes.Repeat([]byte("x"), 64<<10)
		const burst = 200 // 12.5 MiB: more than loopback buffers hold
		for i := range burst {
			if err := conn.Write(wsproto.OpBinary, msg); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		for i := range burst {
			if f := c.expect(wsproto.OpBinary); len(f.data) != len(msg) {
				t.Fatalf("message %d: %d bytes", i, len(f.data))
			}
		}
		time.Sleep(2 * cfg.WriteTimeout) // past the writer's deadline
		for i := range 3 {
			if err := conn.Write(wsproto.OpText, []byte("after")); err != nil {
				t.Fatalf("write after the burst: %v", err)
			}
			if f := c.expect(wsproto.OpText); string(f.data) != "after" {
				t.Fatalf("message %d after the burst: %q", i, f.data)
			}
		}
		select {
		case ci := <-h.closed:
			t.Fatalf("closed: %+v", ci)
		default:
		}
	})
}
