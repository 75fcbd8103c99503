package bench

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Every measured message carries its send time: 16 lowercase hex digits of
// nanoseconds since the run's epoch (a monotonic clock reading taken at the
// start), then 'x' up to the requested size. The bench process both sends
// and receives, so send and receipt times come from the same clock even
// when the message crossed three server processes.

const stampLen = 16

var errPayload = errors.New("bench: unexpected payload")

// clock is the run's epoch.
type clock struct{ epoch time.Time }

func newClock() clock { return clock{epoch: time.Now()} }

func (c clock) now() time.Duration { return time.Since(c.epoch) }

// appendStamped appends a payload of size bytes (at least stampLen)
// stamped with t.
func appendStamped(dst []byte, t time.Duration, size int) []byte {
	var hex [stampLen]byte
	v := uint64(t)
	for i := stampLen - 1; i >= 0; i-- {
		hex[i] = "0123456789abcdef"[v&0xF]
		v >>= 4
	}
	dst = append(dst, hex[:]...)
	if size <= stampLen {
		return dst
	}
	// Fill with 'x' by doubling: 64 KiB payloads are built per message.
	start := len(dst)
	n := size - stampLen
	dst = append(dst, 'x')
	for have := 1; have < n; have = len(dst) - start {
		dst = append(dst, dst[start:start+min(have, n-have)]...)
	}
	return dst
}

// parseStamp reads the send time at the start of p.
func parseStamp(p []byte) (time.Duration, error) {
	if len(p) < stampLen {
		return 0, fmt.Errorf("%w: %d bytes, want at least %d", errPayload, len(p), stampLen)
	}
	var v uint64
	for _, c := range p[:stampLen] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, fmt.Errorf("%w: stamp %q is not hex", errPayload, p[:stampLen])
		}
	}
	return time.Duration(v), nil
}

// proto is how a client frames its messages on a route.
//
// plain sends the stamped payload as a text message and expects it back
// unchanged. sio speaks Socket.IO v4 over Engine.IO v4 (the socketio
// transcoder): it answers the open packet with a namespace connect, sends
// 42["echo","<payload>"] — which the transcoder turns into the listener
// JSON {"namespace":"/","event":"echo","args":["<payload>"]}, which an echo
// route sends back, which the transcoder turns into the event
// 42["echo","<payload>"] again — and answers the transcoder's pings. A
// reference server is a plain echo: it gets the same Socket.IO frames (so
// the bytes on the wire match) without the Engine.IO handshake.
type proto struct {
	sio       bool // Socket.IO framing
	handshake bool // Engine.IO open and namespace connect (edgews only)
}

func routeProto(route string, target string) proto {
	sio := len(route) >= 10 && route[:10] == "/socket.io"
	return proto{sio: sio, handshake: sio && target == targetEdgews}
}

// urlFor is the request target for a route: socket.io routes get the
// Engine.IO query; every URL carries the session and the user (the
// reference server identifies users by ?user=, edgews by the session).
func (p proto) urlFor(route, session, user string) string {
	path := route
	if p.sio && (path == "/socket.io" || path == "/socket.io/*") {
		path = "/socket.io/"
	}
	u := path + "?"
	if p.sio {
		u += "EIO=4&transport=websocket&"
	}
	return u + "session=" + session + "&user=" + user
}

// open finishes what the protocol needs after the upgrade: for Socket.IO
// the open packet and the default namespace connect.
func (p proto) open(w *wsConn) error {
	if !p.handshake {
		return nil
	}
	for range 10 {
		_, m, err := w.readMessage()
		if err != nil {
			return fmt.Errorf("bench: socket.io open: %w", err)
		}
		switch {
		case len(m) > 0 && m[0] == '0':
			if err := w.send(opText, []byte("40")); err != nil {
				return err
			}
		case bytes.HasPrefix(m, []byte("40")):
			return nil
		case bytes.Equal(m, []byte("2")):
			if err := w.send(opText, []byte("3")); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("%w: no socket.io namespace connect", errPayload)
}

var sioEchoPrefix = []byte(`42["echo","`)

// appendMessage appends a stamped message as the protocol frames it.
func (p proto) appendMessage(dst []byte, t time.Duration, size int) []byte {
	if !p.sio {
		return appendStamped(dst, t, size)
	}
	dst = append(dst, sioEchoPrefix...)
	dst = appendStamped(dst, t, size)
	return append(dst, `"]`...)
}

// stamp extracts the send time from a received message. control reports
// a protocol message that is not a measured one (an Engine.IO ping, which
// it answers).
func (p proto) stamp(w *wsConn, m []byte) (t time.Duration, control bool, err error) {
	if p.sio {
		switch {
		case bytes.Equal(m, []byte("2")):
			return 0, true, w.send(opText, []byte("3"))
		case bytes.HasPrefix(m, []byte("42[")):
			// 42["event","<payload>"]: the payload is the second string.
			i := bytes.Index(m, []byte(`","`))
			if i < 0 {
				return 0, false, fmt.Errorf("%w: %.40q", errPayload, m)
			}
			m = m[i+3:]
		default:
			return 0, true, nil // other Engine.IO/Socket.IO packets
		}
	}
	t, err = parseStamp(m)
	return t, false, err
}
