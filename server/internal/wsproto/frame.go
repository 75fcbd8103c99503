package wsproto

import "encoding/binary"

// Header bits.
const (
	bitFin  = 0x80
	bitRsv1 = 0x40
	bitRsv2 = 0x20
	bitRsv3 = 0x10
	bitMask = 0x80
)

// MaxHeaderLen is the longest frame header: 2 + 8 length bytes + 4 mask bytes.
const MaxHeaderLen = 14

// AppendHeader appends a server (unmasked) frame header for a payload of n
// bytes.
func AppendHeader(dst []byte, fin bool, op byte, rsv1 bool, n int) []byte {
	b0 := op
	if fin {
		b0 |= bitFin
	}
	if rsv1 {
		b0 |= bitRsv1
	}
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xFFFF:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// HeaderLen returns the length of a server frame header for an n-byte payload.
func HeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// AppendFrame appends a whole unmasked (server) frame.
func AppendFrame(dst []byte, fin bool, op byte, rsv1 bool, payload []byte) []byte {
	dst = AppendHeader(dst, fin, op, rsv1, len(payload))
	return append(dst, payload...)
}

// AppendClientFrame appends a whole masked (client) frame. rsv holds the
// three reserved bits in their header positions (0x40, 0x20, 0x10) so tools
// can send frames that violate the protocol on purpose.
func AppendClientFrame(dst []byte, fin bool, op byte, rsv byte, key [4]byte, payload []byte) []byte {
	b0 := op&0x0F | rsv&0x70
	if fin {
		b0 |= bitFin
	}
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, b0, bitMask|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, bitMask|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, bitMask|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	Mask(key, 0, dst[start:])
	return dst
}

// ClosePayload returns the payload of a close frame with code and reason.
// Code 0 (or CloseNoStatus) gives an empty payload.
func ClosePayload(code uint16, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return nil
	}
	reason = TruncateReason(reason)
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, code)
	return append(p, reason...)
}

// ParseClosePayload decodes a received close frame's payload. An empty
// payload gives CloseNoStatus. A one-byte payload, a code that may not be
// sent, or a reason that is not UTF-8 is a *CloseError.
func ParseClosePayload(p []byte) (code uint16, reason string, err error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", nil
	case len(p) == 1:
		return 0, "", closeErr(CloseProtocolError, "close frame with a one-byte payload")
	}
	code = binary.BigEndian.Uint16(p)
	if !ValidCloseCode(code) {
		return 0, "", closeErr(CloseProtocolError, "invalid close code")
	}
	var v UTF8
	if !v.Write(p[2:]) || !v.Complete() {
		return 0, "", closeErr(CloseInvalidPayload, "close reason is not valid UTF-8")
	}
	return code, string(p[2:]), nil
}
