package autobahn_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// rawServer is a small RFC 6455 echo server written for these tests on
// plain net.Conn, independent of the runner's code. With every switch off
// it is meant to be correct, including fail-fast UTF-8 checks and
// permessage-deflate with context takeover; each switch breaks one thing
// on purpose, so the tests can check that the runner notices.
type rawServer struct {
	ignoreRSV  bool // accept frames with reserved bits set
	closeReply int  // when non-zero, answer every close frame with this code
	noPong     bool // never answer pings
	skipUTF8   bool // echo text without checking UTF-8
	deflate    bool // negotiate permessage-deflate

	tls *tls.Config // serve wss:// with this configuration
}

// start serves on a loopback port until the test ends and returns the URL.
func (s rawServer) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "ws://"
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
		scheme = "wss://"
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	done := false
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if done {
				mu.Unlock()
				_ = c.Close()
				return
			}
			conns[c] = true
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				s.serve(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		done = true
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return scheme + ln.Addr().String() + "/echo"
}

var errFail = errors.New("connection failed")

// session is one server connection.
type session struct {
	cfg  rawServer
	conn net.Conn
	br   *bufio.Reader

	// permessage-deflate, when negotiated
	deflate     bool
	clientNoCtx bool // client must reset its compressor per message
	serverNoCtx bool
	serverBits  int
	comp        *flate.Writer
	compBuf     bytes.Buffer
	history     []byte
	inflater    io.ReadCloser
}

func (s rawServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	ss := &session{cfg: s, conn: c, br: bufio.NewReaderSize(c, 64<<10)}
	if err := ss.handshake(); err != nil {
		return
	}
	ss.loop()
}

func (ss *session) handshake() error {
	req, err := http.ReadRequest(ss.br)
	if err != nil {
		return err
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") || key == "" {
		_, _ = io.WriteString(ss.conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return errFail
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nServer: rawserver\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
	if ss.cfg.deflate {
		if ext, ok := ss.negotiate(req.Header.Values("Sec-WebSocket-Extensions")); ok {
			resp += "Sec-WebSocket-Extensions: " + ext + "\r\n"
		}
	}
	_, err = io.WriteString(ss.conn, resp+"\r\n")
	return err
}

// negotiate accepts the first permessage-deflate offer it can honour.
func (ss *session) negotiate(headers []string) (string, bool) {
	for _, h := range headers {
		for _, offer := range strings.Split(h, ",") {
			parts := strings.Split(offer, ";")
			if strings.TrimSpace(parts[0]) != "permessage-deflate" {
				continue
			}
			resp := "permessage-deflate"
			ss.serverBits = 15
			ok := true
			for _, p := range parts[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				switch k {
				case "server_no_context_takeover":
					ss.serverNoCtx = true
					resp += "; server_no_context_takeover"
				case "server_max_window_bits":
					n, err := strconv.Atoi(v)
					if err != nil || n < 8 || n > 15 {
						ok = false
					}
					ss.serverBits = max(n, 9) // a raw deflate window of 2^8 is not supported by zlib either
					resp += "; server_max_window_bits=" + strconv.Itoa(ss.serverBits)
				case "client_no_context_takeover", "client_max_window_bits":
					// The client may honour them; this server does not ask.
				default:
					ok = false
				}
			}
			if ok {
				ss.deflate = true
				return resp, true
			}
		}
	}
	return "", false
}

type frame struct {
	fin     bool
	rsv     byte
	opcode  byte
	payload []byte
}

// fail sends a close frame with the code and ends the connection.
func (ss *session) fail(code int) {
	_ = ss.writeFrame(8, binary.BigEndian.AppendUint16(nil, uint16(code)), false)
}

func (ss *session) loop() {
	var (
		inMessage  bool
		msgOpcode  byte
		compressed bool
		msg        []byte
		val        utf8Stream
		checkText  bool // the current frame carries uncompressed text to validate
	)
	onStart := func(f frame) {
		checkText = false
		switch {
		case f.opcode == 1 && !inMessage:
			val = utf8Stream{}
			checkText = !(ss.deflate && f.rsv&4 != 0)
		case f.opcode == 0 && inMessage:
			checkText = msgOpcode == 1 && !compressed
		}
		checkText = checkText && !ss.cfg.skipUTF8
	}
	onChunk := func(chunk []byte) bool { return !checkText || val.feed(chunk) }
	for {
		f, err := ss.readFrame(onStart, onChunk, inMessage)
		if err != nil {
			var ce closeErr
			if errors.As(err, &ce) {
				ss.fail(int(ce))
			}
			return
		}
		switch {
		case f.opcode == 8:
			ss.onClose(f.payload)
			return
		case f.opcode == 9:
			if !ss.cfg.noPong {
				if err := ss.writeFrame(10, f.payload, false); err != nil {
					return
				}
			}
		case f.opcode == 10:
		case f.opcode == 0 && !inMessage, f.opcode != 0 && inMessage:
			ss.fail(1002)
			return
		default:
			if !inMessage {
				inMessage, msgOpcode, msg = true, f.opcode, msg[:0]
				compressed = ss.deflate && f.rsv&4 != 0
			}
			msg = append(msg, f.payload...)
			if !f.fin {
				continue
			}
			inMessage = false
			data := msg
			if compressed {
				if data, err = ss.inflate(msg); err != nil {
					ss.fail(1007)
					return
				}
			}
			if msgOpcode == 1 && !ss.cfg.skipUTF8 {
				if (compressed && !utf8.Valid(data)) || (!compressed && !val.complete()) {
					ss.fail(1007)
					return
				}
			}
			if err := ss.writeMessage(msgOpcode, data); err != nil {
				return
			}
		}
	}
}

type closeErr int

func (c closeErr) Error() string { return "close " + strconv.Itoa(int(c)) }

// readFrame reads one frame. onStart sees the header; onChunk sees the
// payload as it arrives and returns false to fail with 1007 at once.
func (ss *session) readFrame(onStart func(frame), onChunk func([]byte) bool, inMessage bool) (frame, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(ss.br, hdr[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: hdr[0]&0x80 != 0, rsv: (hdr[0] >> 4) & 7, opcode: hdr[0] & 0x0f}
	allowed := byte(0)
	if ss.deflate && !inMessage && f.opcode != 0 && f.opcode < 8 {
		allowed = 4
	}
	if f.rsv&^allowed != 0 && !ss.cfg.ignoreRSV {
		return f, closeErr(1002)
	}
	if (f.opcode > 2 && f.opcode < 8) || f.opcode > 10 {
		return f, closeErr(1002)
	}
	if hdr[1]&0x80 == 0 {
		return f, closeErr(1002) // client frames must be masked
	}
	n := uint64(hdr[1] & 0x7f)
	if f.opcode >= 8 && (n > 125 || !f.fin) {
		return f, closeErr(1002)
	}
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(ss.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(ss.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
		if n > 64<<20 {
			return f, closeErr(1009)
		}
	}
	var mask [4]byte
	if _, err := io.ReadFull(ss.br, mask[:]); err != nil {
		return f, err
	}
	onStart(f)
	f.payload = make([]byte, 0, min(n, 1<<20))
	buf := make([]byte, 32<<10)
	for uint64(len(f.payload)) < n {
		want := min(uint64(len(buf)), n-uint64(len(f.payload)))
		k, err := ss.br.Read(buf[:want])
		for i := 0; i < k; i++ {
			buf[i] ^= mask[(len(f.payload)+i)%4]
		}
		chunk := buf[:k]
		if k > 0 && !onChunk(chunk) {
			return f, closeErr(1007)
		}
		f.payload = append(f.payload, chunk...)
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

func (ss *session) onClose(p []byte) {
	code := 1000
	switch {
	case len(p) == 1:
		ss.fail(1002)
		return
	case len(p) >= 2:
		c := int(binary.BigEndian.Uint16(p))
		if c < 1000 || c >= 5000 || (c >= 1004 && c <= 1006) || (c >= 1012 && c < 3000) {
			ss.fail(1002)
			return
		}
		if !utf8.Valid(p[2:]) {
			ss.fail(1007)
			return
		}
		code = c
	}
	if ss.cfg.closeReply != 0 {
		code = ss.cfg.closeReply
	}
	_ = ss.writeFrame(8, binary.BigEndian.AppendUint16(nil, uint16(code)), false)
}

func (ss *session) writeFrame(opcode byte, payload []byte, compressed bool) error {
	b0 := 0x80 | opcode
	if compressed {
		b0 |= 0x40
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, byte(n))
	case n <= 0xffff:
		out = binary.BigEndian.AppendUint16(append(out, 126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, 127), uint64(n))
	}
	_, err := ss.conn.Write(append(out, payload...))
	return err
}

func (ss *session) writeMessage(opcode byte, payload []byte) error {
	if !ss.deflate {
		return ss.writeFrame(opcode, payload, false)
	}
	ss.compBuf.Reset()
	switch {
	case ss.comp == nil:
		var err error
		if ss.serverBits < 15 {
			ss.comp, err = flate.NewWriterWindow(&ss.compBuf, 1<<ss.serverBits)
		} else {
			ss.comp, err = flate.NewWriter(&ss.compBuf, flate.BestSpeed)
		}
		if err != nil {
			return err
		}
	case ss.serverNoCtx:
		ss.comp.Reset(&ss.compBuf)
	}
	if _, err := ss.comp.Write(payload); err != nil {
		return err
	}
	if err := ss.comp.Flush(); err != nil {
		return err
	}
	z := ss.compBuf.Bytes()
	return ss.writeFrame(opcode, z[:len(z)-4], true)
}

// inflate decompresses one message from the client, keeping the window
// across messages (the client keeps its context, as this server does not
// ask for client_no_context_takeover).
func (ss *session) inflate(p []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	if ss.inflater == nil {
		ss.inflater = flate.NewReaderDict(src, ss.history)
	} else if err := ss.inflater.(flate.Resetter).Reset(src, ss.history); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(ss.inflater)
	if err != nil {
		return nil, err
	}
	ss.history = append(ss.history, out...)
	if len(ss.history) > 32<<10 {
		ss.history = ss.history[len(ss.history)-32<<10:]
	}
	return out, nil
}

// utf8Stream validates UTF-8 that arrives in pieces.
type utf8Stream struct{ tail []byte }

// feed checks the next piece; false means the text can no longer be valid.
func (u *utf8Stream) feed(p []byte) bool {
	b := append(u.tail, p...)
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			break
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	u.tail = append([]byte(nil), b[i:]...)
	return validPrefix(u.tail)
}

func (u *utf8Stream) complete() bool { return len(u.tail) == 0 }

// validPrefix reports whether some continuation makes t valid UTF-8.
func validPrefix(t []byte) bool {
	if len(t) == 0 {
		return true
	}
	need := 0
	switch {
	case t[0] >= 0xc2 && t[0] <= 0xdf:
		need = 2
	case t[0] >= 0xe0 && t[0] <= 0xef:
		need = 3
	case t[0] >= 0xf0 && t[0] <= 0xf4:
		need = 4
	default:
		return false
	}
	for c := 0x80; c <= 0xbf; c++ {
		cand := append([]byte(nil), t...)
		if len(cand) == 1 {
			cand = append(cand, byte(c))
		}
		for len(cand) < need {
			cand = append(cand, 0x80)
		}
		if len(cand) == need && utf8.Valid(cand) && bytes.HasPrefix(cand, t) {
			return true
		}
	}
	return false
}
