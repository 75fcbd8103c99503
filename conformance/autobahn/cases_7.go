package autobahn

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// closeCase is the common shape of section 7: the client does something
// around the closing handshake and expects nothing but a close in reply. A
// wrong close code fails the case.
func closeCase(id, desc, expect string, codes []int, clean bool, send func(r *run)) *caseSpec {
	return &caseSpec{
		id:     id,
		desc:   desc,
		expect: expect,
		limit:  seconds(1),
		open: func(r *run) {
			r.suppressClose = true
			r.expect(OK)
			r.expectClose(closeExpectation{closedByMe: true, codes: codes, requireClean: clean})
			send(r)
			r.killAfter(seconds(1))
		},
		lost: failOnWrongCode,
	}
}

// Section 7: close handling.
func section7() ([]*caseSpec, map[string]string) {
	normal := []int{closeNormal}
	protocolError := []int{closeProtocolError}
	code := func(c int) *int { return &c }
	specs := []*caseSpec{
		{
			id:     "7.1.1",
			desc:   "Send a text message, then close.",
			expect: "The message is echoed, then a clean close with code 1000.",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK, textMsg("Hello World!"))
				r.closeNormally()
				r.sendFrame(1, []byte("Hello World!"))
				r.killAfter(seconds(1))
			},
			lost: failOnWrongCode,
		},
		closeCase("7.1.2", "Send two close frames.", "A clean close with code 1000; the second close frame is ignored.", normal, true, func(r *run) {
			r.closeWith(closeNormal)
			r.sendFrame(8, nil)
		}),
		closeCase("7.1.3", "Send a ping after the close frame.", "A clean close with code 1000 and no pong.", normal, true, func(r *run) {
			r.closeWith(closeNormal)
			r.sendFrame(9, nil)
		}),
		closeCase("7.1.4", "Send a text message after the close frame.", "A clean close with code 1000; the message is ignored.", normal, true, func(r *run) {
			r.closeWith(closeNormal)
			r.sendFrame(1, []byte("Hello World!"))
		}),
		closeCase("7.1.5", "Send the first fragment of a message, a close frame, then the last fragment.", "A clean close with code 1000.", normal, true, func(r *run) {
			r.sendFrame(1, []byte("fragment1"), notFin())
			r.closeWith(closeNormal)
			r.sendFrame(0, []byte("fragment2"))
		}),
		{
			id:     "7.1.6",
			desc:   "Send a 256 KiB text message, a short text message, a close frame and a ping, back to back.",
			expect: "Depends on how the server orders work: if it processes the close before it has written the echoes, they may be missing or cut. Informational only.",
			limit:  seconds(1),
			open: func(r *run) {
				r.suppressClose = true
				r.expect(OK, textMsg("Hello World!"))
				r.expect(NonStrict)
				r.closeNormally()
				r.sendFrame(1, []byte("BAsd7&jh23"), withRepeat(256<<10))
				r.sendFrame(1, []byte("Hello World!"))
				r.closeWith(closeNormal)
				r.sendFrame(9, nil)
				r.killAfter(seconds(1))
			},
			lost: func(r *run) {
				switch r.behavior {
				case OK:
					r.result = "The text message was processed before the close."
				case NonStrict:
					r.result = "The close was processed before the text message could be echoed."
				}
				r.behavior = Informational
				r.behaviorClose = Informational
			},
		},
		closeCase("7.3.1", "Send a close frame with an empty payload (no code, no reason).", "A clean close with code 1000.", normal, true, func(r *run) {
			r.sendCloseFrame(nil, nil, false, false)
		}),
		closeCase("7.3.2", "Send a close frame with a 1-octet payload.", "A close with code 1002 (protocol error), or the TCP connection dropped.", protocolError, false, func(r *run) {
			r.sendCloseFrame(nil, []byte("a"), true, false)
		}),
		closeCase("7.3.3", "Send a close frame with a 2-octet payload: just the code 1000.", "A clean close with code 1000.", normal, true, func(r *run) {
			r.closeWith(closeNormal)
		}),
		closeCase("7.3.4", "Send a close frame with code 1000 and a reason.", "A clean close with code 1000.", normal, true, func(r *run) {
			reason := "Hello World!"
			r.sendClose(code(closeNormal), &reason)
		}),
		closeCase("7.3.5", "Send a close frame with code 1000 and a reason of 123 octets, the longest that fits.", "A clean close with code 1000.", normal, true, func(r *run) {
			reason := string(bytes.Repeat([]byte{'*'}, 123))
			r.sendClose(code(closeNormal), &reason)
		}),
		closeCase("7.3.6", "Send a close frame with code 1000 and a reason of 124 octets: 126 octets of payload, one too many for a control frame.", "A close with code 1002 (protocol error), or the TCP connection dropped.", protocolError, false, func(r *run) {
			r.sendCloseFrame(code(closeNormal), bytes.Repeat([]byte{'*'}, 124), true, false)
		}),
		{
			id:     "7.5.1",
			desc:   "Send a close frame with code 1000 and a reason that is not valid UTF-8. Reason: 0x" + hex.EncodeToString(invalidReason),
			expect: "A close with code 1002 or 1007, or the TCP connection dropped.",
			limit:  seconds(1),
			open: func(r *run) {
				r.suppressClose = true
				r.expect(OK)
				r.expectClose(closeExpectation{closedByMe: true, codes: []int{closeProtocolError, closeInvalidPayload}})
				r.sendCloseFrame(code(closeNormal), invalidReason, true, false)
				r.killAfter(seconds(1))
			},
			lost: func(r *run) {
				failOnWrongCode(r)
				// The reason we sent is not text; report it as hex.
				s := "?"
				if len(r.localCloseReason) > 0 {
					s = hex.EncodeToString(r.localCloseReason)
				}
				r.localCloseReasonReport = &s
			},
		},
	}
	for i, c := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		specs = append(specs, closeCodeCase(fmt.Sprintf("7.7.%d", i+1), c, true))
	}
	for i, c := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		specs = append(specs, closeCodeCase(fmt.Sprintf("7.9.%d", i+1), c, false))
	}
	for i, c := range []int{5000, 65535} {
		c := c
		specs = append(specs, &caseSpec{
			id:     fmt.Sprintf("7.13.%d", i+1),
			desc:   fmt.Sprintf("Send a close frame with code %d.", c),
			expect: "The RFC leaves the outcome open. Informational only.",
			limit:  seconds(1),
			open: func(r *run) {
				r.suppressClose = true
				r.expect(OK)
				r.expectClose(closeExpectation{closedByMe: true, codes: []int{closeNormal, c, closeProtocolError}})
				r.sendCloseFrame(&c, nil, false, false)
				r.killAfter(seconds(1))
			},
			lost: func(r *run) {
				r.behavior = Informational
				r.behaviorClose = Informational
				r.result = "The RFC leaves the outcome open."
			},
		})
	}
	return specs, map[string]string{
		"7.1":  "Basic close behavior (fuzzer initiated)",
		"7.3":  "Close frame structure: payload length (fuzzer initiated)",
		"7.5":  "Close frame structure: payload value (fuzzer initiated)",
		"7.7":  "Close frame structure: valid close codes (fuzzer initiated)",
		"7.9":  "Close frame structure: invalid close codes (fuzzer initiated)",
		"7.13": "Informational close information (fuzzer initiated)",
	}
}

// invalidReason is kosme, a UTF-16 surrogate, then "edited".
var invalidReason = concat(kosme, []byte{0xed, 0xa0, 0x80}, edited)

// closeCodeCase sends a close frame with a valid (7.7.x) or invalid
// (7.9.x) code.
func closeCodeCase(id string, c int, valid bool) *caseSpec {
	s := &caseSpec{id: id, limit: seconds(1), lost: failOnWrongCode}
	if valid {
		s.desc = fmt.Sprintf("Send a close frame with the valid code %d.", c)
		s.expect = "A clean close with code 1000 or the code sent."
	} else {
		s.desc = fmt.Sprintf("Send a close frame with the invalid code %d.", c)
		s.expect = "A close with code 1002 (protocol error), or the TCP connection dropped."
	}
	s.open = func(r *run) {
		r.expect(OK)
		if valid {
			r.expectClose(closeExpectation{closedByMe: true, codes: []int{closeNormal, c}, requireClean: true})
		} else {
			r.expectClose(closeExpectation{closedByMe: true, codes: []int{closeProtocolError}})
		}
		r.sendCloseFrame(&c, nil, false, false)
		r.killAfter(seconds(1))
	}
	return s
}
