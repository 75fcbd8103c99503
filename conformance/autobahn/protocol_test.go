package autobahn

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// pipeRun returns an open run whose connection is one end of an in-memory
// pipe; the test reads what the client writes from the other end.
func pipeRun(t testing.TB) (*run, net.Conn) {
	t.Helper()
	spec := &caseSpec{id: "0.0", open: func(*run) {}}
	r := newRun(spec, &runConfig{url: &wsURL{host: "127.0.0.1", port: 1, resource: "/"}, data: &testDataSet{}})
	c1, c2 := net.Pipe()
	r.conn = c1
	r.tr = newTransport(c1, 0)
	r.state = stateOpen
	r.connectionWasOpen = true
	t.Cleanup(func() {
		r.tr.close(true)
		_ = c1.Close()
		_ = c2.Close()
		<-r.tr.done
	})
	return r, c2
}

// feed hands wire to the run on another goroutine (the client's writes
// block until the test reads them) and returns a wait for it to finish.
func feed(r *run, wire []byte) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.dataReceived(wire)
	}()
	return func() { <-done }
}

// drain discards what the client writes until the test ends.
func drain(c net.Conn) { go func() { _, _ = io.Copy(io.Discard, c) }() }

// serverFrame encodes an unmasked frame.
func serverFrame(fin bool, rsv, opcode byte, payload []byte) []byte {
	b0 := opcode | rsv<<4
	if fin {
		b0 |= 0x80
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
	return append(out, payload...)
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// readClientFrame reads and unmasks one frame the client wrote.
func readClientFrame(t testing.TB, c net.Conn) (opcode byte, payload []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		t.Fatalf("reading client frame: %v", err)
	}
	if h[1]&0x80 == 0 {
		t.Fatalf("client frame not masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	_, _ = io.ReadFull(c, mask[:])
	payload = make([]byte, n)
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatalf("reading client payload: %v", err)
	}
	maskBytes(payload, mask, 0)
	return h[0] & 0x0f, payload
}

func TestReceiveMessagesAndControlFrames(t *testing.T) {
	t.Parallel()
	r, peer := pipeRun(t)
	// A fragmented text message with a ping in the middle, fed one octet at a time.
	var wire []byte
	wire = append(wire, serverFrame(false, 0, 1, []byte("Hel"))...)
	wire = append(wire, serverFrame(true, 0, 9, []byte("ping!"))...)
	wire = append(wire, serverFrame(true, 0, 0, []byte("lo"))...)
	wire = append(wire, serverFrame(true, 0, 2, []byte{0xff, 0x00})...)
	wire = append(wire, serverFrame(true, 0, 10, []byte("pong"))...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range wire {
			r.dataReceived(wire[i : i+1])
		}
	}()
	op, p := readClientFrame(t, peer)
	<-done
	if op != 10 || string(p) != "ping!" {
		t.Errorf("client answered the ping with opcode %d payload %q", op, p)
	}
	want := []event{textMsg("Hello"), binMsg([]byte{0xff, 0x00}), pongEvent("pong")}
	if !eventsEqual(r.received, want) {
		t.Errorf("received %v, want %v", r.received, want)
	}
	if r.failedByMe || r.state != stateOpen {
		t.Errorf("state %v failedByMe %v", r.state, r.failedByMe)
	}
}

func TestReceiveProtocolViolations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wire []byte
		code int
	}{
		{"reserved bits", serverFrame(true, 1, 1, []byte("x")), closeProtocolError},
		{"masked frame", []byte{0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1}, closeProtocolError},
		{"reserved opcode", serverFrame(true, 0, 3, nil), closeProtocolError},
		{"fragmented ping", serverFrame(false, 0, 9, nil), closeProtocolError},
		{"orphan continuation", serverFrame(true, 0, 0, []byte("x")), closeProtocolError},
		{"long length for short payload", []byte{0x81, 126, 0, 1, 'x'}, closeProtocolError},
		{"invalid UTF-8", serverFrame(false, 0, 1, []byte{0xce, 0xba, 0xff}), closeInvalidPayload},
		{"compressed without extension", serverFrame(true, 4, 1, []byte("x")), closeProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, peer := pipeRun(t)
			wait := feed(r, tc.wire)
			op, p := readClientFrame(t, peer)
			drain(peer)
			wait()
			if op != 8 || len(p) < 2 || int(binary.BigEndian.Uint16(p)) != tc.code {
				t.Fatalf("client sent opcode %d payload %x, want close %d", op, p, tc.code)
			}
		})
	}
}

// An invalid text message is failed twice over by the official client: at
// the bad octet (close 1007) and again at the end of the frame, which,
// with a closing handshake under way, drops the connection.
func TestInvalidTextDropsAfterClosing(t *testing.T) {
	t.Parallel()
	r, peer := pipeRun(t)
	drain(peer)
	r.dataReceived(serverFrame(true, 0, 1, []byte{'a', 0xff}))
	if !r.failedByMe || !r.closedByMe || !r.droppedByMe || r.state != stateClosed {
		t.Errorf("failed %v closed %v dropped %v state %v", r.failedByMe, r.closedByMe, r.droppedByMe, r.state)
	}
	if r.localCloseCode == nil || *r.localCloseCode != closeInvalidPayload {
		t.Errorf("local close code %v, want 1007", r.localCloseCode)
	}
	if len(r.received) != 0 {
		t.Errorf("invalid message delivered: %v", r.received)
	}
}

func TestReceiveClose(t *testing.T) {
	t.Parallel()
	t.Run("server initiates", func(t *testing.T) {
		t.Parallel()
		r, peer := pipeRun(t)
		wait := feed(r, serverFrame(true, 0, 8, closePayload(1001, "bye")))
		op, p := readClientFrame(t, peer)
		wait()
		if op != 8 || !bytes.Equal(p, closePayload(1000, "")) {
			t.Errorf("reply: opcode %d payload %x, want close 1000", op, p)
		}
		if r.closedByMe || !r.wasClean || *r.remoteCloseCode != 1001 || *r.remoteCloseReason != "bye" {
			t.Errorf("closedByMe %v wasClean %v code %v", r.closedByMe, r.wasClean, *r.remoteCloseCode)
		}
	})
	t.Run("reply to ours", func(t *testing.T) {
		t.Parallel()
		r, peer := pipeRun(t)
		drain(peer)
		r.closeWith(1000)
		if r.state != stateClosing || !r.closedByMe || r.closeTimer == nil {
			t.Fatalf("after sendClose: state %v closedByMe %v", r.state, r.closedByMe)
		}
		closeTimer := r.closeTimer
		r.dataReceived(serverFrame(true, 0, 8, closePayload(1000, "")))
		if !r.wasClean || r.dropTimer == nil || !closeTimer.cancelled {
			t.Errorf("wasClean %v dropTimer %v", r.wasClean, r.dropTimer)
		}
	})
	t.Run("invalid code", func(t *testing.T) {
		t.Parallel()
		r, peer := pipeRun(t)
		wait := feed(r, serverFrame(true, 0, 8, closePayload(999, "")))
		op, p := readClientFrame(t, peer)
		drain(peer)
		wait()
		if op != 8 || binary.BigEndian.Uint16(p) != closeProtocolError {
			t.Errorf("reply: opcode %d payload %x, want close 1002", op, p)
		}
	})
	t.Run("reason not decodable", func(t *testing.T) {
		t.Parallel()
		r, peer := pipeRun(t)
		drain(peer)
		r.dataReceived(serverFrame(true, 0, 8, closePayload(1000, "\xff")))
		if r.fatal == "" {
			t.Error("an undecodable close reason should stop processing")
		}
	})
}

func TestReceiveCompressed(t *testing.T) {
	t.Parallel()
	r, peer := pipeRun(t)
	drain(peer)
	r.pmce = newDeflateCodec(deflateResponse{})
	server := newDeflateCodec(deflateResponse{})
	for range 2 {
		z, err := server.compress([]byte("Hello, Hello, Hello!"))
		if err != nil {
			t.Fatal(err)
		}
		r.dataReceived(serverFrame(false, 4, 1, z[:3]))
		r.dataReceived(serverFrame(true, 0, 0, z[3:]))
	}
	want := []event{textMsg("Hello, Hello, Hello!"), textMsg("Hello, Hello, Hello!")}
	if !eventsEqual(r.received, want) || r.failedByMe {
		t.Errorf("received %v failed %v, want %v", r.received, r.failedByMe, want)
	}
}

func TestSendMessageFragmentation(t *testing.T) {
	t.Parallel()
	r, peer := pipeRun(t)
	go func() {
		r.sendMessage([]byte("abcdef"), false, 3) // a multiple: ends with an empty frame
		r.sendMessage([]byte("abcdefg"), true, 3)
	}()
	want := []struct {
		op byte
		p  string
	}{{1, "abc"}, {0, "def"}, {0, ""}, {2, "abc"}, {0, "def"}, {0, "g"}}
	for i, w := range want {
		op, p := readClientFrame(t, peer)
		if op != w.op || string(p) != w.p {
			t.Errorf("frame %d: opcode %d %q, want %d %q", i, op, p, w.op, w.p)
		}
	}
	if r.txFrames[0] != 4 || r.txFrames[1] != 1 || r.txFrames[2] != 1 {
		t.Errorf("frame stats %v", r.txFrames)
	}
}

func FuzzProcessData(f *testing.F) {
	f.Add(serverFrame(true, 0, 1, []byte("hello")), 3, false)
	f.Add(append(serverFrame(false, 0, 1, []byte("he")), serverFrame(true, 0, 0, []byte("llo"))...), 4, false)
	f.Add(serverFrame(true, 0, 8, closePayload(1000, "bye")), 1, false)
	f.Add([]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 5, true)
	f.Fuzz(func(t *testing.T, wire []byte, split int, deflate bool) {
		r, peer := pipeRun(t)
		drain(peer)
		if deflate {
			r.pmce = newDeflateCodec(deflateResponse{})
		}
		if split < 0 || split > len(wire) {
			split = len(wire) / 2
		}
		r.dataReceived(wire[:split])
		if r.fatal == "" && r.closeReq == nil {
			r.dataReceived(wire[split:])
		}
		if r.frame != nil && r.framePos > r.frame.length {
			t.Fatalf("frame position %d beyond length %d", r.framePos, r.frame.length)
		}
		if r.droppedByMe != (r.state == stateClosed) {
			t.Fatalf("dropped %v but state %v", r.droppedByMe, r.state)
		}
	})
}
