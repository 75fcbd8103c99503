package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// libServer is a net/http server with the fasthttp/websocket library's
// Upgrader: a real, independent WebSocket implementation for the client
// to talk to. script runs on the server side of each connection.
func libServer(t *testing.T, script func(*testing.T, *websocket.Conn)) string {
	t.Helper()
	up := websocket.Upgrader{WriteBufferSize: 1024}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("session") == "bad" {
			http.Error(w, "no such session", http.StatusUnauthorized)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		script(t, c)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func dialLib(t *testing.T, addr, target string, readBuf int) (*wsConn, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return upgrade(c, addr, target, readBuf)
}

func TestClientAgainstLibrary(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB: fragmented by the server, larger than the reader
	pongs := make(chan string, 1)
	addr := libServer(t, func(t *testing.T, c *websocket.Conn) {
		c.SetPongHandler(func(s string) error { pongs <- s; return nil })
		// Echo three messages the client masked.
		for range 3 {
			mt, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, m)
		}
		c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		w, _ := c.NextWriter(websocket.BinaryMessage)
		w.Write(big)
		w.Close()
		c.WriteMessage(websocket.TextMessage, []byte("after"))
		c.ReadMessage() // reads the pong (handler), then the close
	})
	w, err := dialLib(t, addr, "/x?session=ok", 512)
	if err != nil {
		t.Fatal(err)
	}
	// Three frames in one write; sizes across the 7/16/64-bit length forms.
	var frames []byte
	msgs := [][]byte{[]byte("hello"), bytes.Repeat([]byte("a"), 300), bytes.Repeat([]byte("b"), 70_000)}
	for _, m := range msgs {
		frames = w.appendFrame(frames, opText, m)
	}
	if _, err := w.c.Write(frames); err != nil {
		t.Fatal(err)
	}
	for i, want := range msgs {
		op, m, err := w.readMessage()
		if err != nil || op != opText || !bytes.Equal(m, want) {
			t.Fatalf("echo %d: op %d, %d bytes, %v", i, op, len(m), err)
		}
	}
	// The ping is answered on the way to the next message, which arrives
	// in fragments larger than the read buffer.
	op, m, err := w.readMessage()
	if err != nil || op != opBinary || !bytes.Equal(m, big) {
		t.Fatalf("big: op %d, %d bytes, %v", op, len(m), err)
	}
	if p := <-pongs; p != "are you there" {
		t.Fatalf("pong %q", p)
	}
	for deadline := time.Now().Add(5 * time.Second); !w.buffered() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		w.br.Peek(1) // fill the buffer from the socket
	}
	if !w.buffered() {
		t.Fatal("a whole small frame arrived but buffered() says no")
	}
	if _, m, err := w.readMessage(); err != nil || string(m) != "after" {
		t.Fatalf("after: %q %v", m, err)
	}
	if err := w.closeHandshake(5 * time.Second); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
}

func TestClientUpgradeRefused(t *testing.T) {
	t.Parallel()
	addr := libServer(t, func(*testing.T, *websocket.Conn) {})
	_, err := dialLib(t, addr, "/x?session=bad", 512)
	if !errors.Is(err, errHandshake) || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "no such session") {
		t.Fatalf("refused upgrade: %v", err)
	}
}

func TestClientWrongAcceptKey(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n")
		time.Sleep(time.Second)
	}()
	_, err = dialLib(t, ln.Addr().String(), "/", 512)
	if !errors.Is(err, errHandshake) || !strings.Contains(err.Error(), "Sec-WebSocket-Accept") {
		t.Fatalf("wrong accept key: %v", err)
	}
}

func TestClientServerClose(t *testing.T) {
	t.Parallel()
	addr := libServer(t, func(t *testing.T, c *websocket.Conn) {
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4401, "session expired"))
		c.ReadMessage()
	})
	w, err := dialLib(t, addr, "/", 512)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = w.readMessage()
	var ce *closeError
	if !errors.As(err, &ce) || ce.code != 4401 || ce.reason != "session expired" {
		t.Fatalf("close: %v", err)
	}
}

// TestClientProtocolErrors feeds frames a server must not send.
func TestClientProtocolErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"masked", []byte{0x81, 0x81, 1, 2, 3, 4, 'a'}},
		{"reserved bits", []byte{0xC1, 0x00}},
		{"long control", append([]byte{0x89, 126, 0, 126}, make([]byte, 126)...)},
		{"fragmented control", []byte{0x09, 0x00}},
		{"continuation first", []byte{0x80, 0x00}},
		{"new message inside fragments", []byte{0x01, 0x01, 'a', 0x81, 0x01, 'b'}},
		{"unknown opcode", []byte{0x83, 0x00}},
		{"too large", []byte{0x82, 127, 0, 0, 0, 0, 0x10, 0, 0, 0}},
		{"top bit length", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, srv := pipeConn(t)
			go srv.Write(tt.in)
			if _, _, err := w.readMessage(); !errors.Is(err, errProtocol) {
				t.Fatalf("got %v, want errProtocol", err)
			}
		})
	}
}

// discardConn is a net.Conn that swallows writes (pongs the parser sends
// while it is fuzzed).
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzReadMessage: whatever a server sends, the client's frame parser
// returns a message or an error, never panics, and never returns more than
// it accepts.
func FuzzReadMessage(f *testing.F) {
	f.Add(serverFrame(opText, true, []byte("hello")))
	f.Add(append(serverFrame(opText, false, []byte("hel")), serverFrame(opCont, true, []byte("lo"))...))
	f.Add(append(serverFrame(opPing, true, []byte("p")), serverFrame(opBinary, true, make([]byte, 300))...))
	f.Add(serverFrame(opClose, true, []byte{0x03, 0xE8, 'b', 'y', 'e'}))
	f.Add(serverFrame(opBinary, true, make([]byte, 70_000)))
	f.Add([]byte{0x81, 0x81, 1, 2, 3, 4, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &wsConn{c: discardConn{}, br: bufio.NewReaderSize(bytes.NewReader(data), 256)}
		for range 64 {
			op, m, err := w.readMessage()
			if err != nil {
				return
			}
			if op != opText && op != opBinary {
				t.Fatalf("returned opcode %d", op)
			}
			if len(m) > maxFramePayload || len(m) > len(data) {
				t.Fatalf("returned %d bytes from %d of input", len(m), len(data))
			}
		}
	})
}
