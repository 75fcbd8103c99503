package autobahn

import (
	"encoding/binary"
	"math/rand/v2"
)

// frameOpt adjusts a frame sent with sendFrame.
type frameOpt func(*frameSpec)

type frameSpec struct {
	fin       bool
	rsv       byte
	repeat    int // payload_len: repeat the payload up to this many octets, -1 for none
	chop      int // write the frame in pieces of this many octets, 0 for none
	sync      bool
	fixedMask []byte
}

// notFin sends the frame with FIN = 0.
func notFin() frameOpt { return func(f *frameSpec) { f.fin = false } }

// fin sets FIN explicitly.
func withFin(v bool) frameOpt { return func(f *frameSpec) { f.fin = v } }

// withRSV sets the three reserved bits.
func withRSV(rsv byte) frameOpt { return func(f *frameSpec) { f.rsv = rsv } }

// withRepeat sends a payload of n octets made by repeating the given payload.
func withRepeat(n int) frameOpt { return func(f *frameSpec) { f.repeat = n } }

// withChop writes the frame's octets in pieces of n octets, pausing between them.
func withChop(n int) frameOpt { return func(f *frameSpec) { f.chop = n } }

// withSync writes the frame on its own, pausing afterwards.
func withSync(v bool) frameOpt { return func(f *frameSpec) { f.sync = v } }

// sendFrame writes one frame, valid or not, as the cases ask. Client frames
// are always masked with a fresh random key.
func (r *run) sendFrame(opcode byte, payload []byte, opts ...frameOpt) {
	f := frameSpec{fin: true, repeat: -1}
	for _, o := range opts {
		o(&f)
	}
	pl := payload
	if f.repeat >= 0 {
		pl = repeatPayload(payload, f.repeat)
	}
	var b0 byte
	if f.fin {
		b0 |= 0x80
	}
	b0 |= (f.rsv % 8) << 4
	b0 |= opcode % 128

	var mask [4]byte
	binary.BigEndian.PutUint32(mask[:], rand.Uint32())
	raw := make([]byte, 0, 14+len(pl))
	raw = appendHeader(raw, b0, uint64(len(pl)), mask[:])
	start := len(raw)
	raw = append(raw, pl...)
	maskBytes(raw[start:], mask, 0)

	if opcode <= 2 {
		r.traffic.OutgoingWebSocketFrames++
	}
	r.logTxFrame(opcode, f, payload, len(pl), mask[:])
	r.sendData(raw, f.sync, f.chop)
}

// repeatPayload builds n octets by repeating p (p must not be empty).
func repeatPayload(p []byte, n int) []byte {
	out := make([]byte, n)
	if len(p) == 0 {
		return out
	}
	for i := 0; i < n; i += len(p) {
		copy(out[i:], p)
	}
	return out
}

// appendHeader appends a masked frame header with the shortest length encoding.
func appendHeader(dst []byte, b0 byte, length uint64, mask []byte) []byte {
	b1 := byte(0x80)
	switch {
	case length <= 125:
		dst = append(dst, b0, b1|byte(length))
	case length <= 0xFFFF:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, length)
	}
	return append(dst, mask...)
}

// maskBytes XORs p with the mask, starting at mask position pos.
func maskBytes(p []byte, mask [4]byte, pos uint64) {
	for i := range p {
		p[i] ^= mask[(pos+uint64(i))%4]
	}
}

// sendData queues octets for the wire. With chop, they go out in pieces of
// chop octets, each written on its own.
func (r *run) sendData(data []byte, sync bool, chop int) {
	if r.state == stateOpen {
		r.traffic.OutgoingOctetsWireLevel += len(data)
	} else if r.state == stateConnecting {
		r.traffic.PreopenOutgoingOctetsWireLevel += len(data)
	}
	if chop > 0 {
		for i := 0; i < len(data); i += chop {
			j := min(i+chop, len(data))
			r.logTxOctets(data[i:j], true)
			r.tr.write(data[i:j], true)
		}
		if len(data) == 0 {
			r.logTxOctets(data, true)
			r.tr.write(data, true)
		}
		return
	}
	r.logTxOctets(data, sync)
	r.tr.write(data, sync)
}

func (r *run) sendPong(payload []byte) {
	if r.state != stateOpen || len(payload) > 125 {
		return
	}
	r.sendFrame(10, payload)
}

// sendCloseFrame sends a close frame (even an invalid one) when the
// connection is open, and moves to the closing state.
func (r *run) sendCloseFrame(code *int, reason []byte, hasReason, isReply bool) {
	if r.state != stateOpen {
		return
	}
	var payload []byte
	if code != nil {
		payload = binary.BigEndian.AppendUint16(payload, uint16(*code))
	}
	if hasReason {
		payload = append(payload, reason...)
	}
	r.sendFrame(8, payload)
	r.state = stateClosing
	r.closedByMe = !isReply
	r.localCloseCode = code
	r.localCloseReason = reason
	r.hasLocalCloseReason = hasReason
	if r.closedByMe {
		r.closeTimer = r.callLater(closeHandshakeTimeout, r.onCloseHandshakeTimeout)
	}
}

// sendClose starts a closing handshake with an optional code and reason.
func (r *run) sendClose(code *int, reason *string) {
	var rb []byte
	if reason != nil {
		rb = []byte(*reason)
		if len(rb)+2 > 125 {
			rb = append(rb[:120:120], "..."...)
		}
	}
	r.sendCloseFrame(code, rb, reason != nil, false)
}

// closeWith is sendClose with a code and no reason.
func (r *run) closeWith(code int) { r.sendClose(&code, nil) }

// sendMessage sends a whole message, compressed when permessage-deflate is
// in use, fragmented into frames of fragSize octets (0: the auto-fragment
// size, which defaults to no fragmentation). Like the official client, when
// the payload length is a multiple of the fragment size the message ends
// with an empty final frame.
func (r *run) sendMessage(payload []byte, binaryMsg bool, fragSize int) {
	if r.state != stateOpen {
		return
	}
	opcode := byte(1)
	if binaryMsg {
		opcode = 2
	}
	r.traffic.OutgoingWebSocketMessages++
	compressed := false
	if r.pmce != nil {
		r.traffic.OutgoingOctetsAppLevel += len(payload)
		z, err := r.pmce.compress(payload)
		if err != nil {
			r.fatal = "compressing a message failed: " + err.Error()
			return
		}
		payload = z
		compressed = true
		r.traffic.OutgoingOctetsWebSocketLevel += len(payload)
	} else {
		r.traffic.OutgoingOctetsAppLevel += len(payload)
		r.traffic.OutgoingOctetsWebSocketLevel += len(payload)
	}
	var rsv byte
	if compressed {
		rsv = 4
	}
	pfs := fragSize
	if pfs == 0 {
		pfs = r.autoFragmentSize
	}
	if pfs <= 0 || len(payload) <= pfs {
		r.sendFrame(opcode, payload, withRSV(rsv))
		return
	}
	n := len(payload)
	first := true
	for i, done := 0, false; !done; i += pfs {
		j := i + pfs
		if j > n {
			done = true
			j = n
		}
		if first {
			r.sendFrame(opcode, payload[i:j], withFin(done), withRSV(rsv))
			first = false
		} else {
			r.sendFrame(0, payload[i:j], withFin(done))
		}
	}
}

// streamState is the state of the streaming send API (beginMessage and friends).
type streamState struct {
	inFrame bool
	begun   bool // a message was begun and its first frame not yet started
	opcode  byte
	length  uint64
	pos     uint64
	mask    [4]byte
}

// beginMessage starts a text message sent piece by piece (cases 6.4.3, 6.4.4).
func (r *run) beginMessage() {
	if r.state != stateOpen {
		return
	}
	r.send = streamState{begun: true, opcode: 1}
	r.traffic.OutgoingWebSocketMessages++
}

// beginMessageFrame writes the header of a frame of the given length; FIN is
// never set, the message ends with endMessage.
func (r *run) beginMessageFrame(length int) {
	if r.state != stateOpen {
		return
	}
	r.traffic.OutgoingWebSocketFrames++
	var b0 byte
	if r.send.begun {
		b0 = r.send.opcode
		r.send.begun = false
	}
	binary.BigEndian.PutUint32(r.send.mask[:], rand.Uint32())
	hdr := appendHeader(nil, b0, uint64(length), r.send.mask[:])
	r.send.length = uint64(length)
	r.send.pos = 0
	r.send.inFrame = true
	r.sendData(hdr, false, 0)
}

// sendMessageFrameData writes payload octets of the current frame.
func (r *run) sendMessageFrameData(payload []byte) {
	if r.state != stateOpen || !r.send.inFrame {
		return
	}
	r.traffic.OutgoingOctetsAppLevel += len(payload)
	r.traffic.OutgoingOctetsWebSocketLevel += len(payload)
	left := r.send.length - r.send.pos
	if uint64(len(payload)) > left {
		payload = payload[:left]
	}
	out := append([]byte(nil), payload...)
	maskBytes(out, r.send.mask, r.send.pos)
	r.send.pos += uint64(len(out))
	r.sendData(out, false, 0)
	if r.send.pos >= r.send.length {
		r.send.inFrame = false
	}
}

// endMessage ends a streamed message with an empty final continuation frame.
func (r *run) endMessage() {
	if r.state != stateOpen {
		return
	}
	r.sendFrame(0, nil)
	r.send = streamState{}
}
