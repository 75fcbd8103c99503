package autobahn

import (
	"encoding/binary"
	"fmt"
)

// frameHeader is the header of a frame being received.
type frameHeader struct {
	opcode byte
	fin    bool
	rsv    byte
	length uint64
	masked bool
	mask   [4]byte
}

// dataReceived is called with every chunk read from the connection.
func (r *run) dataReceived(p []byte) {
	if r.state == stateOpen {
		r.traffic.IncomingOctetsWireLevel += len(p)
	} else if r.state == stateConnecting {
		r.traffic.PreopenIncomingOctetsWireLevel += len(p)
	}
	r.logRxOctets(p)
	r.data = append(r.data, p...)
	r.consumeData()
}

func (r *run) consumeData() {
	switch r.state {
	case stateOpen, stateClosing:
		for r.processData() && r.state != stateClosed && r.fatal == "" {
		}
	case stateConnecting:
		r.processHandshake()
	}
}

// processData parses frames out of the receive buffer, the way the official
// client does. It reports whether it should be called again. Protocol
// violations fail the connection (a close frame is sent) but parsing goes
// on, so that the close handshake reply can still be read; that is what
// failByDrop=false means.
func (r *run) processData() bool {
	if r.frame == nil {
		return r.processFrameHeader()
	}
	rest := r.frame.length - r.framePos
	var chunk []byte
	if uint64(len(r.data)) >= rest {
		chunk = r.data[:rest]
		r.data = r.data[rest:]
	} else {
		chunk = r.data
		r.data = nil
	}
	payload := chunk
	if len(chunk) > 0 && r.frame.masked {
		payload = make([]byte, len(chunk))
		for i, b := range chunk {
			payload[i] = b ^ r.frame.mask[(r.framePos+uint64(i))%4]
		}
	}
	r.framePos += uint64(len(chunk))
	r.onFrameData(payload)
	if r.fatal != "" {
		return false
	}
	if r.framePos == r.frame.length {
		r.onFrameEnd()
		if r.fatal != "" {
			return false
		}
	}
	return len(r.data) > 0
}

func (r *run) processFrameHeader() bool {
	if len(r.data) < 2 {
		return false
	}
	b0, b1 := r.data[0], r.data[1]
	fin := b0&0x80 != 0
	rsv := (b0 & 0x70) >> 4
	opcode := b0 & 0x0f
	masked := b1&0x80 != 0
	len1 := b1 & 0x7f

	if rsv != 0 && !(r.pmce != nil && rsv == 4) {
		r.protocolViolation(fmt.Sprintf("reserved bits %d set without a negotiated extension", rsv))
	}
	if masked {
		r.protocolViolation("server frame is masked")
	}
	if opcode > 7 {
		if !fin {
			r.protocolViolation("control frame without FIN")
		}
		if len1 > 125 {
			r.protocolViolation("control frame payload longer than 125 octets")
		}
		if opcode != 8 && opcode != 9 && opcode != 10 {
			r.protocolViolation(fmt.Sprintf("reserved control opcode %d", opcode))
		}
		if opcode == 8 && len1 == 1 {
			r.protocolViolation("close frame with a 1-octet payload")
		}
		if r.pmce != nil && rsv == 4 {
			r.protocolViolation("control frame with the compression bit")
		}
	} else {
		if opcode > 2 {
			r.protocolViolation(fmt.Sprintf("reserved data opcode %d", opcode))
		}
		if !r.insideMessage && opcode == 0 {
			r.protocolViolation("continuation frame outside a fragmented message")
		}
		if r.insideMessage && opcode != 0 {
			r.protocolViolation("new data frame inside a fragmented message")
		}
		if r.pmce != nil && rsv == 4 && r.insideMessage {
			r.protocolViolation("continuation frame with the compression bit")
		}
	}

	headerLen := 2
	if masked {
		headerLen += 4
	}
	switch {
	case len1 == 126:
		headerLen += 2
	case len1 == 127:
		headerLen += 8
	}
	if len(r.data) < headerLen {
		return false
	}
	i := 2
	length := uint64(len1)
	switch len1 {
	case 126:
		length = uint64(binary.BigEndian.Uint16(r.data[i:]))
		if length < 126 {
			r.protocolViolation("frame length not minimally encoded")
		}
		i += 2
	case 127:
		length = binary.BigEndian.Uint64(r.data[i:])
		if length > 1<<63-1 {
			r.protocolViolation("frame length above 2^63")
		}
		if length < 65536 {
			r.protocolViolation("frame length not minimally encoded")
		}
		i += 8
	}
	h := &frameHeader{opcode: opcode, fin: fin, rsv: rsv, length: length, masked: masked}
	if masked {
		copy(h.mask[:], r.data[i:i+4])
		i += 4
	}
	r.data = r.data[i:]
	r.frame = h
	r.framePos = 0
	r.onFrameBegin()
	return length == 0 || len(r.data) > 0
}

func (r *run) onFrameBegin() {
	h := r.frame
	if h.opcode > 7 {
		r.ctrl = r.ctrl[:0]
		return
	}
	if !r.insideMessage {
		r.insideMessage = true
		r.msgCompressed = r.pmce != nil && h.rsv == 4
		r.utf8Active = h.opcode == 1
		if r.utf8Active {
			r.utf8.reset()
			r.utf8Last = utf8Result{valid: true, complete: true}
		}
		r.msgBinary = h.opcode == 2
		r.msg = r.msg[:0]
	}
}

func (r *run) onFrameData(payload []byte) {
	h := r.frame
	if h.opcode > 7 {
		r.ctrl = append(r.ctrl, payload...)
		return
	}
	if r.msgCompressed {
		// Compressed messages are inflated (and validated) as a whole when
		// they end; see onFrameEnd.
		if r.state == stateOpen {
			r.traffic.IncomingOctetsWebSocketLevel += len(payload)
		}
		r.zmsg = append(r.zmsg, payload...)
		r.logRxFramePart(payload)
		return
	}
	if r.state == stateOpen {
		r.traffic.IncomingOctetsWebSocketLevel += len(payload)
		r.traffic.IncomingOctetsAppLevel += len(payload)
	}
	if r.utf8Active {
		r.utf8Last = r.utf8.validate(payload)
		if !r.utf8Last.valid {
			r.invalidPayload(fmt.Sprintf("text message is not UTF-8 (octet %d)", r.utf8Last.index))
		}
	}
	if !r.failedByMe {
		r.msg = append(r.msg, payload...)
	}
	r.logRxFramePart(payload)
}

func (r *run) onFrameEnd() {
	h := r.frame
	if h.opcode > 7 {
		r.logRxFrame(h, r.ctrl)
		r.processControlFrame()
		if r.fatal != "" {
			return
		}
	} else {
		if r.state == stateOpen {
			r.traffic.IncomingWebSocketFrames++
		}
		r.logRxFrame(h, nil)
		if h.fin {
			if r.msgCompressed {
				out, err := r.pmce.decompress(r.zmsg)
				r.zmsg = r.zmsg[:0]
				if err != nil {
					// The official client raises here; the transport goes away.
					r.fatal = "inflating a compressed message failed: " + err.Error()
					return
				}
				if r.state == stateOpen {
					r.traffic.IncomingOctetsAppLevel += len(out)
				}
				if r.utf8Active {
					r.utf8Last = r.utf8.validate(out)
					if !r.utf8Last.valid {
						r.invalidPayload(fmt.Sprintf("text message is not UTF-8 (octet %d)", r.utf8Last.index))
					}
				}
				r.msg = out
			}
			if r.utf8Active && !r.utf8Last.complete {
				r.invalidPayload(fmt.Sprintf("text message ends inside a code point (octet %d)", r.utf8Last.index))
			}
			if r.state == stateOpen {
				r.traffic.IncomingWebSocketMessages++
			}
			if !r.failedByMe {
				msg := r.msg
				r.msg = nil
				r.onMessage(msg, r.msgBinary)
			}
			r.msg = r.msg[:0]
			r.insideMessage = false
		}
	}
	r.frame = nil
}

func (r *run) processControlFrame() {
	payload := append([]byte(nil), r.ctrl...)
	switch r.frame.opcode {
	case 8:
		var code *int
		var reason []byte
		hasReason := false
		if len(payload) > 1 {
			c := int(binary.BigEndian.Uint16(payload))
			code = &c
			if len(payload) > 2 {
				reason = payload[2:]
				hasReason = true
			}
		}
		r.onCloseFrame(code, reason, hasReason)
	case 9:
		// The fuzzing client does not record pings; it answers them.
		if r.state == stateOpen {
			r.sendPong(payload)
		}
	case 10:
		r.casePong(payload)
	}
}

// allowedCloseCodes are the codes 1000-2999 the official client accepts.
var allowedCloseCodes = map[int]bool{1000: true, 1001: true, 1002: true, 1003: true, 1007: true, 1008: true, 1009: true, 1010: true, 1011: true}

func (r *run) onCloseFrame(code *int, reason []byte, hasReason bool) {
	r.remoteCloseCode = code
	if code != nil {
		c := *code
		if c < 1000 || (c <= 2999 && !allowedCloseCodes[c]) || c >= 5000 {
			r.protocolViolation(fmt.Sprintf("close code %d is not allowed", c))
		}
	}
	if !hasReason {
		r.remoteCloseReason = nil
	} else {
		if !validUTF8Prefix(reason) {
			r.invalidPayload("close reason is not UTF-8")
		}
		if !py2Decodable(reason) {
			// Decoding the reason raises in the official client.
			r.fatal = "close reason is not valid UTF-8"
			return
		}
		s := string(reason)
		r.remoteCloseReason = &s
	}
	switch r.state {
	case stateClosing:
		r.closeTimer.cancel()
		r.closeTimer = nil
		r.wasClean = true
		r.dropTimer = r.callLater(serverConnectionDropTimeout, r.onServerConnectionDropTimeout)
	case stateOpen:
		r.wasClean = true
		c := closeNormal
		r.sendCloseFrame(&c, nil, false, true)
	case stateClosed:
		r.wasClean = false
	}
}

// validUTF8Prefix reports whether p contains no invalid octet (it may end
// inside a code point), which is the check the official client applies to
// close reasons before decoding them.
func validUTF8Prefix(p []byte) bool {
	var v utf8Validator
	return v.validate(p).valid
}

func (r *run) onServerConnectionDropTimeout() {
	r.dropTimer = nil
	if r.state != stateClosed {
		r.wasClean = false
		s := "server kept the TCP connection open after the closing handshake"
		r.wasNotCleanReason = &s
		r.wasServerConnectionDropTimeout = true
		r.dropConnection(true)
	}
}

func (r *run) onOpenHandshakeTimeout() {
	r.openTimer = nil
	if r.state == stateConnecting {
		r.wasClean = false
		s := "opening handshake not finished in time"
		r.wasNotCleanReason = &s
		r.wasOpenHandshakeTimeout = true
		r.dropConnection(true)
	}
}

func (r *run) onCloseHandshakeTimeout() {
	r.closeTimer = nil
	if r.state != stateClosed {
		r.wasClean = false
		s := "no close frame in reply within the closing handshake timeout"
		r.wasNotCleanReason = &s
		r.wasCloseHandshakeTimeout = true
		r.dropConnection(true)
	}
}

func (r *run) dropConnection(abort bool) {
	if r.state == stateClosed {
		return
	}
	r.droppedByMe = true
	r.state = stateClosed
	r.closeTransport(abort)
}

// failConnection starts a closing handshake with the given code, or drops
// the connection when a closing handshake is already under way.
func (r *run) failConnection(code int, reason string) {
	if r.state == stateClosed {
		return
	}
	r.failedByMe = true
	if r.state != stateClosing {
		rb := []byte(reason)
		if len(rb) > 123 {
			rb = rb[:123]
		}
		r.sendCloseFrame(&code, rb, true, false)
	} else {
		r.dropConnection(false)
	}
}

func (r *run) protocolViolation(reason string) {
	r.failConnection(closeProtocolError, reason)
}

func (r *run) invalidPayload(reason string) {
	r.failConnection(closeInvalidPayload, reason)
}
