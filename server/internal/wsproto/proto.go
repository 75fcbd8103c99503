package wsproto

import (
	"errors"
	"fmt"
)

// Opcodes (RFC 6455 section 5.2).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close codes (RFC 6455 section 7.4 and the IANA registry) and the codes
// edgews defines in the 4000-4999 private range.
const (
	CloseNormal          uint16 = 1000
	CloseGoingAway       uint16 = 1001
	CloseProtocolError   uint16 = 1002
	CloseUnsupportedData uint16 = 1003
	CloseNoStatus        uint16 = 1005 // never sent: "no code in the close frame"
	CloseAbnormal        uint16 = 1006 // never sent: "closed without a close frame"
	CloseInvalidPayload  uint16 = 1007
	ClosePolicyViolation uint16 = 1008
	CloseTooBig          uint16 = 1009
	CloseMandatoryExt    uint16 = 1010
	CloseInternalError   uint16 = 1011
	CloseServiceRestart  uint16 = 1012
	CloseTryAgainLater   uint16 = 1013
)

// MaxControlPayload is the largest payload of a control frame.
const MaxControlPayload = 125

// MaxCloseReason is the longest close reason that fits a close frame.
const MaxCloseReason = MaxControlPayload - 2

// ErrClosed is returned when writing to a connection whose close has begun.
var ErrClosed = errors.New("wsproto: connection closed")

// CloseError is a protocol outcome: the connection must be closed with Code
// and Reason.
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wsproto: close %d: %s", e.Code, e.Reason)
}

func closeErr(code uint16, reason string) *CloseError {
	return &CloseError{Code: code, Reason: reason}
}

// ValidCloseCode reports whether code may appear in a close frame received
// from a peer (RFC 6455 section 7.4.1 and 7.4.2): the defined codes that can
// be sent, and the 3000-4999 ranges.
func ValidCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// TruncateReason shortens a close reason to fit a close frame without
// splitting a UTF-8 sequence.
func TruncateReason(reason string) string {
	if len(reason) <= MaxCloseReason {
		return reason
	}
	cut := MaxCloseReason
	for cut > 0 && reason[cut]&0xC0 == 0x80 {
		cut--
	}
	return reason[:cut]
}
