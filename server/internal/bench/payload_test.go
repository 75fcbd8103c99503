package bench

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	t.Parallel()
	for _, size := range []int{16, 17, 64, 100, 4096, 65536, 100_000} {
		for _, ts := range []time.Duration{0, 1, 123456789, time.Hour, 1<<63 - 1} {
			b := appendStamped([]byte("pre"), ts, size)
			if len(b) != 3+size {
				t.Fatalf("size %d: %d bytes", size, len(b)-3)
			}
			if bytes.Count(b[3+stampLen:], []byte("x")) != size-stampLen {
				t.Fatalf("size %d: filler wrong", size)
			}
			got, err := parseStamp(b[3:])
			if err != nil || got != ts {
				t.Fatalf("size %d: stamp %v, %v; want %v", size, got, err, ts)
			}
		}
	}
	for _, bad := range []string{"", "0123", "0123456789abcdeg", "0123456789ABCDEF"} {
		if _, err := parseStamp([]byte(bad)); !errors.Is(err, errPayload) {
			t.Errorf("parseStamp(%q) = %v, want errPayload", bad, err)
		}
	}
}

func TestRouteProto(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		route, target, url string
		sio, handshake     bool
	}{
		{"/echo", targetEdgews, "/echo?session=s&user=u", false, false},
		{"/echo-identity", targetReference, "/echo-identity?session=s&user=u", false, false},
		{"/socket.io/*", targetEdgews, "/socket.io/?EIO=4&transport=websocket&session=s&user=u", true, true},
		{"/socket.io/*", targetReference, "/socket.io/?EIO=4&transport=websocket&session=s&user=u", true, false},
	} {
		p := routeProto(tt.route, tt.target)
		if p.sio != tt.sio || p.handshake != tt.handshake {
			t.Errorf("%s on %s: %+v", tt.route, tt.target, p)
		}
		if u := p.urlFor(tt.route, "s", "u"); u != tt.url {
			t.Errorf("%s on %s: url %q, want %q", tt.route, tt.target, u, tt.url)
		}
	}
}

// pipeConn returns a client wsConn reading what the test writes to srv.
func pipeConn(t *testing.T) (*wsConn, net.Conn) {
	t.Helper()
	cli, srv := net.Pipe()
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return &wsConn{c: cli, br: bufio.NewReaderSize(cli, 512)}, srv
}

// serverFrame is an unmasked frame as a server sends it.
func serverFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	n := len(payload)
	var f []byte
	switch {
	case n < 126:
		f = []byte{b0, byte(n)}
	case n <= 0xFFFF:
		f = []byte{b0, 126, byte(n >> 8), byte(n)}
	default:
		f = []byte{b0, 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(f, payload...)
}

func TestSocketIOStamp(t *testing.T) {
	t.Parallel()
	w, srv := pipeConn(t)
	p := proto{sio: true, handshake: true}
	msg := p.appendMessage(nil, 777, 20)
	if !bytes.HasPrefix(msg, []byte(`42["echo","`)) || !bytes.HasSuffix(msg, []byte(`"]`)) {
		t.Fatalf("frame %q", msg)
	}
	if ts, control, err := p.stamp(w, msg); err != nil || control || ts != 777 {
		t.Fatalf("echo: %v %v %v", ts, control, err)
	}
	out := append([]byte(`42["message","`), appendStamped(nil, 99, 16)...)
	if ts, control, err := p.stamp(w, append(out, `"]`...)); err != nil || control || ts != 99 {
		t.Fatalf("message event: %v %v %v", ts, control, err)
	}
	if _, control, err := p.stamp(w, []byte(`40{"sid":"x"}`)); err != nil || !control {
		t.Fatalf("connect packet: %v %v", control, err)
	}
	if _, _, err := p.stamp(w, []byte(`42["broken"]`)); !errors.Is(err, errPayload) {
		t.Fatalf("event without payload: %v", err)
	}
	// An Engine.IO ping is answered with a pong.
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 64)
		n, _ := srv.Read(b)
		got <- b[:n]
	}()
	if _, control, err := p.stamp(w, []byte("2")); err != nil || !control {
		t.Fatalf("ping: %v %v", control, err)
	}
	f := <-got
	if len(f) != 7 || f[0] != 0x81 || f[1] != 0x81 {
		t.Fatalf("pong frame % x", f)
	}
	payload := []byte{f[6] ^ f[2]}
	if string(payload) != "3" {
		t.Fatalf("pong payload %q", payload)
	}
}
