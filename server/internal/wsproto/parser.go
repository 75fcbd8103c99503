package wsproto

import (
	"encoding/binary"
	"unicode/utf8"
)

// ParserConfig sets the limits a Parser enforces.
type ParserConfig struct {
	// MaxMessage is the largest message payload accepted, in bytes (for a
	// compressed message: its compressed size; the inflater enforces the
	// decompressed size). 0 means no limit. Exceeding it is close 1009.
	MaxMessage int64
	// MaxFragments is the most frames one data message may span. 0 means no
	// limit. Exceeding it is close 1009.
	MaxFragments int
	// Compression allows RSV1 on the first frame of a data message
	// (permessage-deflate was negotiated).
	Compression bool
	// Budget, when set, is charged for the message buffer of a message
	// that spans frames or reads (see Budget); a charge past its limit
	// fails Feed with ErrPartialBudget.
	Budget *Budget
}

// Sink receives what a Parser decodes. A non-nil error stops Feed and is
// returned from it unchanged.
type Sink interface {
	// Message receives a whole data message (OpText or OpBinary). payload is
	// only valid until Message returns. When compressed is true the payload is
	// the deflated bytes (RFC 7692) and has not been checked as UTF-8;
	// otherwise a text payload has already been validated.
	Message(op byte, payload []byte, compressed bool) error
	// Control receives a ping, pong or close frame; payload is only valid
	// until Control returns.
	Control(op byte, payload []byte) error
}

// Parser decodes client-to-server frames pushed into it by Feed. The zero
// value with a Config is ready to use. A Parser is not safe for concurrent
// use; feed it from one goroutine at a time.
type Parser struct {
	Config ParserConfig

	hdr     [MaxHeaderLen]byte
	hdrN    uint8 // header bytes collected
	inFrame bool  // header complete, payload pending

	fin       bool
	op        byte
	key       [4]byte
	keyPos    int
	remaining uint64

	msgOp      byte // opcode of the data message in progress, 0 if none
	compressed bool
	frags      int
	msgLen     int64
	msg        []byte // payload collected for a message that spans frames or reads
	charged    int64  // bytes of msg's capacity charged to Config.Budget
	utf8       UTF8
	ctrl       []byte // control payload collected across reads
}

// InProgress reports whether a frame or a message has started but not ended.
func (p *Parser) InProgress() bool { return p.hdrN > 0 || p.inFrame || p.msgOp != 0 }

// Buffered returns how many payload bytes the parser holds for an
// unfinished message (memory accounting).
func (p *Parser) Buffered() int { return cap(p.msg) + cap(p.ctrl) }

// Reset drops all state, keeping the Config, and gives back what the
// message buffer was charged to the Budget.
func (p *Parser) Reset() {
	p.release()
	cfg := p.Config
	*p = Parser{Config: cfg}
}

// Feed decodes data, calling sink for every complete message and control
// frame. It unmasks payloads in place, so data is modified. The first
// protocol violation is returned as a *CloseError; after an error the Parser
// must not be fed again.
func (p *Parser) Feed(data []byte, sink Sink) error {
	for len(data) > 0 {
		if !p.inFrame {
			n, err := p.header(data)
			if err != nil {
				return err
			}
			data = data[n:]
			if !p.inFrame {
				return nil // header incomplete: wait for more bytes
			}
			if p.remaining == 0 {
				if err := p.frameDone(nil, sink); err != nil {
					return err
				}
				continue
			}
			if len(data) == 0 {
				return nil
			}
		}
		n := p.remaining
		if uint64(len(data)) < n {
			n = uint64(len(data))
		}
		chunk := data[:n]
		data = data[n:]
		if err := p.payload(chunk, sink); err != nil {
			return err
		}
	}
	return nil
}

// header consumes header bytes from data and returns how many it used.
func (p *Parser) header(data []byte) (int, error) {
	var h []byte
	used := 0
	if p.hdrN == 0 && len(data) >= 2 {
		if data[1]&bitMask == 0 {
			return 0, closeErr(CloseProtocolError, "client frame is not masked")
		}
		need := headerLen(data[1])
		if len(data) >= need {
			h, used = data[:need], need
		}
	}
	if h == nil {
		// Collect into p.hdr across reads.
		for used < len(data) {
			p.hdr[p.hdrN] = data[used]
			p.hdrN++
			used++
			if p.hdrN == 2 && p.hdr[1]&bitMask == 0 {
				return used, closeErr(CloseProtocolError, "client frame is not masked")
			}
			if p.hdrN >= 2 && int(p.hdrN) == headerLen(p.hdr[1]) {
				break
			}
		}
		if p.hdrN < 2 || int(p.hdrN) < headerLen(p.hdr[1]) {
			return used, nil
		}
		h = p.hdr[:p.hdrN]
		p.hdrN = 0
	}
	return used, p.startFrame(h)
}

// headerLen is the header length implied by the second header byte of a
// masked frame (an unmasked frame is rejected once the header is complete,
// so counting the mask key for it too is harmless).
func headerLen(b1 byte) int {
	switch b1 & 0x7F {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	default:
		return 2 + 4
	}
}

func (p *Parser) startFrame(h []byte) error {
	b0, b1 := h[0], h[1]
	fin := b0&bitFin != 0
	rsv1 := b0&bitRsv1 != 0
	op := b0 & 0x0F
	if b0&(bitRsv2|bitRsv3) != 0 {
		return closeErr(CloseProtocolError, "reserved bits RSV2/RSV3 set")
	}
	if b1&bitMask == 0 {
		return closeErr(CloseProtocolError, "client frame is not masked")
	}
	var n uint64
	switch b1 & 0x7F {
	case 126:
		n = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		n = binary.BigEndian.Uint64(h[2:])
		if n>>63 != 0 {
			return closeErr(CloseProtocolError, "frame length has the most significant bit set")
		}
	default:
		n = uint64(b1 & 0x7F)
	}
	copy(p.key[:], h[len(h)-4:])
	p.keyPos = 0

	switch op {
	case OpClose, OpPing, OpPong:
		switch {
		case !fin:
			return closeErr(CloseProtocolError, "fragmented control frame")
		case n > MaxControlPayload:
			return closeErr(CloseProtocolError, "control frame payload longer than 125 bytes")
		case rsv1:
			return closeErr(CloseProtocolError, "reserved bit RSV1 set on a control frame")
		}
	case OpContinuation:
		if p.msgOp == 0 {
			return closeErr(CloseProtocolError, "continuation frame without a message to continue")
		}
		if rsv1 {
			return closeErr(CloseProtocolError, "reserved bit RSV1 set on a continuation frame")
		}
	case OpText, OpBinary:
		if p.msgOp != 0 {
			return closeErr(CloseProtocolError, "new data frame before the fragmented message ended")
		}
		if rsv1 && !p.Config.Compression {
			return closeErr(CloseProtocolError, "reserved bit RSV1 set without a negotiated extension")
		}
		p.msgOp, p.compressed, p.frags, p.msgLen = op, rsv1, 0, 0
		p.utf8.Reset()
	default:
		return closeErr(CloseProtocolError, "reserved opcode")
	}
	if op < OpClose {
		p.frags++
		if p.Config.MaxFragments > 0 && p.frags > p.Config.MaxFragments {
			return closeErr(CloseTooBig, "too many fragments in one message")
		}
		if max := p.Config.MaxMessage; max > 0 && (n > uint64(max) || p.msgLen+int64(n) > max) {
			return closeErr(CloseTooBig, "message too big")
		}
		p.msgLen += int64(n)
	}
	p.fin, p.op, p.remaining, p.inFrame = fin, op, n, true
	return nil
}

// payload handles a chunk of the current frame's payload (len <= remaining).
func (p *Parser) payload(chunk []byte, sink Sink) error {
	p.keyPos = Mask(p.key, p.keyPos, chunk)
	last := uint64(len(chunk)) == p.remaining
	p.remaining -= uint64(len(chunk))

	if p.op >= OpClose {
		if last && p.ctrl == nil {
			return p.frameDone(chunk, sink) // whole control payload in this read
		}
		p.ctrl = append(p.ctrl, chunk...)
		if last {
			return p.frameDone(p.ctrl, sink)
		}
		return nil
	}

	if p.msgOp == OpText && !p.compressed {
		if last && p.fin && p.msg == nil {
			// Whole single-frame message in this read: validate in bulk.
			if p.utf8.need == 0 && !utf8.Valid(chunk) {
				return closeErr(CloseInvalidPayload, "text message is not valid UTF-8")
			}
			if p.utf8.need != 0 && (!p.utf8.Write(chunk) || !p.utf8.Complete()) {
				return closeErr(CloseInvalidPayload, "text message is not valid UTF-8")
			}
			return p.frameDone(chunk, sink)
		}
		if !p.utf8.Write(chunk) {
			return closeErr(CloseInvalidPayload, "text message is not valid UTF-8")
		}
	}
	if last && p.fin && p.msg == nil {
		return p.frameDone(chunk, sink) // zero-copy: the message is this chunk
	}
	p.msg = append(p.msg, chunk...)
	if b := p.Config.Budget; b != nil && int64(cap(p.msg)) > p.charged {
		if grow := int64(cap(p.msg)) - p.charged; !b.take(grow) {
			p.release()
			return ErrPartialBudget
		}
		p.charged = int64(cap(p.msg))
	}
	if last {
		return p.frameDone(p.msg, sink)
	}
	return nil
}

// release drops the message buffer and gives back its charge.
func (p *Parser) release() {
	if p.charged > 0 {
		p.Config.Budget.give(p.charged)
		p.charged = 0
	}
	p.msg = nil
}

// frameDone finishes the current frame whose complete payload (for control
// frames) or message payload (for the final data frame) is given.
func (p *Parser) frameDone(payload []byte, sink Sink) error {
	p.inFrame = false
	if p.op >= OpClose {
		p.ctrl = nil
		return sink.Control(p.op, payload)
	}
	if !p.fin {
		return nil
	}
	if p.msgOp == OpText && !p.compressed && !p.utf8.Complete() {
		return closeErr(CloseInvalidPayload, "text message is not valid UTF-8")
	}
	op, compressed := p.msgOp, p.compressed
	if payload == nil {
		payload = p.msg
	}
	p.msgOp, p.compressed, p.frags, p.msgLen = 0, false, 0, 0
	p.release() // complete: no longer partly received (payload stays valid)
	return sink.Message(op, payload, compressed)
}
