package bench

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// wsConn is the load generator's WebSocket client: a plain net.Conn, a
// bufio.Reader it parses frames from without copying, and a write buffer
// that takes any number of frames for one write. It is not a general
// client — no compression, no extensions, one goroutine at a time — but it
// costs little CPU, which matters when the load generator and the server
// share two cores, and the same client drives every target so the
// comparison stays fair.
type wsConn struct {
	c    net.Conn
	br   *bufio.Reader
	mask [4]byte
	wbuf []byte
	// frag collects fragmented messages and payloads larger than br.
	frag []byte
}

// maxFramePayload bounds what the client accepts from a server in one
// message (the cluster mode sends 64 KiB; edgews allows 1 MiB by default).
const maxFramePayload = 16 << 20

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// errHandshake wraps every refused upgrade.
var errHandshake = errors.New("bench: upgrade refused")

// errProtocol is a frame the client cannot accept.
var errProtocol = errors.New("bench: protocol error from server")

// closeError is the server's close frame.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("bench: server closed the socket: %d %q", e.code, e.reason)
}

// upgrade performs the opening handshake on c for host and target (path
// plus query). readBuf sizes the frame reader; keep it small for
// connections that only idle.
func upgrade(c net.Conn, host, target string, readBuf int) (*wsConn, error) {
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := make([]byte, 0, 256)
	req = append(req, "GET "...)
	req = append(req, target...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, host...)
	req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	req = append(req, key...)
	req = append(req, "\r\n\r\n"...)
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	w := &wsConn{c: c, br: bufio.NewReaderSize(c, max(readBuf, 256))}
	rand.Read(w.mask[:])
	if err := w.readUpgradeResponse(acceptKey(key)); err != nil {
		return nil, err
	}
	return w, nil
}

func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// readUpgradeResponse reads the status line and headers. Anything but 101
// with the right accept key is an error naming the status and, for short
// error bodies, the body.
func (w *wsConn) readUpgradeResponse(accept string) error {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("%w: reading the status line: %w", errHandshake, err)
	}
	fields := bytes.Fields(line)
	if len(fields) < 2 || !bytes.HasPrefix(fields[0], []byte("HTTP/1.")) {
		return fmt.Errorf("%w: bad status line %q", errHandshake, bytes.TrimSpace(line))
	}
	status, _ := strconv.Atoi(string(fields[1]))
	var accepted bool
	contentLength := 0
	for range 100 {
		line, err = w.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("%w: reading headers: %w", errHandshake, err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			accepted = string(value) == accept
		case bytes.EqualFold(name, []byte("Content-Length")):
			contentLength, _ = strconv.Atoi(string(value))
		}
	}
	if status != 101 {
		body := make([]byte, min(max(contentLength, 0), 512))
		n, _ := io.ReadFull(w.br, body)
		return fmt.Errorf("%w: HTTP %d %s", errHandshake, status, bytes.TrimSpace(body[:n]))
	}
	if !accepted {
		return fmt.Errorf("%w: missing or wrong Sec-WebSocket-Accept", errHandshake)
	}
	return nil
}

// appendFrame appends one masked client frame to dst.
func (w *wsConn) appendFrame(dst []byte, op byte, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|op, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|op, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|op, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, w.mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:], w.mask)
	return dst
}

// maskBytes XORs b with the key, eight bytes at a time.
func maskBytes(b []byte, key [4]byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// send writes one frame.
func (w *wsConn) send(op byte, payload []byte) error {
	w.wbuf = w.appendFrame(w.wbuf[:0], op, payload)
	_, err := w.c.Write(w.wbuf)
	return err
}

// sendClose writes a close frame with a status code.
func (w *wsConn) sendClose(code int) error {
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	return w.send(opClose, p[:])
}

// frameHeader parses a frame header from b: header length, payload length,
// and whether b holds the whole header. A masked server frame or a payload
// length with the top bit set is a protocol error.
func frameHeader(b []byte) (hlen int, plen uint64, ok bool, err error) {
	if len(b) < 2 {
		return 0, 0, false, nil
	}
	if b[1]&0x80 != 0 {
		return 0, 0, false, fmt.Errorf("%w: masked frame", errProtocol)
	}
	switch n := b[1] & 0x7F; n {
	case 126:
		if len(b) < 4 {
			return 0, 0, false, nil
		}
		return 4, uint64(binary.BigEndian.Uint16(b[2:])), true, nil
	case 127:
		if len(b) < 10 {
			return 0, 0, false, nil
		}
		plen = binary.BigEndian.Uint64(b[2:])
		if plen>>63 != 0 {
			return 0, 0, false, fmt.Errorf("%w: payload length with the top bit set", errProtocol)
		}
		return 10, plen, true, nil
	default:
		return 2, uint64(n), true, nil
	}
}

// buffered reports whether a whole frame is already in the read buffer, so
// a reader can drain what arrived together before writing again.
func (w *wsConn) buffered() bool {
	n := w.br.Buffered()
	if n < 2 {
		return false
	}
	b, _ := w.br.Peek(min(n, 10))
	hlen, plen, ok, err := frameHeader(b)
	if err != nil {
		return true // let the next read report it
	}
	return ok && uint64(n) >= uint64(hlen)+plen
}

// readMessage returns the next data message (text or binary) with its
// opcode. It answers pings with pongs and returns a *closeError for a
// close frame. The payload is valid until the next call.
func (w *wsConn) readMessage() (byte, []byte, error) {
	var msgOp byte
	fragmented := false
	w.frag = w.frag[:0]
	for {
		b, err := w.br.Peek(2)
		if err != nil {
			return 0, nil, err
		}
		fin, op := b[0]&0x80 != 0, b[0]&0x0F
		if b[0]&0x70 != 0 {
			return 0, nil, fmt.Errorf("%w: reserved bits set", errProtocol)
		}
		need := 2
		switch b[1] & 0x7F {
		case 126:
			need = 4
		case 127:
			need = 10
		}
		if b, err = w.br.Peek(need); err != nil {
			return 0, nil, err
		}
		hlen, plen, _, err := frameHeader(b)
		if err != nil {
			return 0, nil, err
		}
		if plen > maxFramePayload || uint64(len(w.frag))+plen > maxFramePayload {
			return 0, nil, fmt.Errorf("%w: message larger than %d bytes", errProtocol, maxFramePayload)
		}
		w.br.Discard(hlen)
		n := int(plen)
		control := op >= opClose
		if control && (!fin || n > 125) {
			return 0, nil, fmt.Errorf("%w: bad control frame", errProtocol)
		}
		var payload []byte
		if !fragmented && fin && !control && n <= w.br.Size() {
			// The common case: the whole message fits the buffer.
			if payload, err = w.br.Peek(n); err != nil {
				return 0, nil, err
			}
			w.br.Discard(n)
		} else {
			// Grow with what arrives, not with what the header claims.
			start := len(w.frag)
			for left := n; left > 0; {
				k := min(left, 64<<10)
				at := len(w.frag)
				w.frag = append(w.frag, make([]byte, k)...)
				if _, err := io.ReadFull(w.br, w.frag[at:]); err != nil {
					return 0, nil, err
				}
				left -= k
			}
			payload = w.frag[start:]
			if control {
				w.frag = w.frag[:start]
			}
		}
		switch op {
		case opPing:
			if err := w.send(opPong, payload); err != nil {
				return 0, nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			ce := &closeError{code: 1005}
			if len(payload) >= 2 {
				ce.code = int(binary.BigEndian.Uint16(payload))
				ce.reason = string(payload[2:])
			}
			return 0, nil, ce
		case opText, opBinary:
			if fragmented {
				return 0, nil, fmt.Errorf("%w: new message inside a fragmented one", errProtocol)
			}
			if fin {
				return op, payload, nil
			}
			msgOp, fragmented = op, true
		case opCont:
			if !fragmented {
				return 0, nil, fmt.Errorf("%w: continuation without a message", errProtocol)
			}
			if fin {
				return msgOp, w.frag, nil
			}
		default:
			return 0, nil, fmt.Errorf("%w: opcode %d", errProtocol, op)
		}
	}
}

// closeHandshake sends a close frame and waits (up to timeout) for the
// server's, then closes the connection.
func (w *wsConn) closeHandshake(timeout time.Duration) error {
	defer w.c.Close()
	if err := w.sendClose(1000); err != nil {
		return err
	}
	w.c.SetReadDeadline(time.Now().Add(timeout))
	for range 1000 {
		_, _, err := w.readMessage()
		var ce *closeError
		if errors.As(err, &ce) {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return fmt.Errorf("%w: no close frame after 1000 messages", errProtocol)
}
