package autobahn

import (
	"bytes"
	"fmt"
)

// Section 1: framing. Text (1.1.x) and binary (1.2.x) messages of sizes
// around the length-encoding boundaries, echoed back.
func section1() ([]*caseSpec, map[string]string) {
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536, 65536}
	var specs []*caseSpec
	for sub, binaryMsg := range []bool{false, true} {
		kind, opcode := "text", byte(1)
		if binaryMsg {
			kind, opcode = "binary", 2
		}
		for i, n := range sizes {
			var payload []byte
			if binaryMsg {
				payload = bytes.Repeat([]byte{0xfe}, n)
			} else {
				payload = bytes.Repeat([]byte{'*'}, n)
			}
			chop := 0
			if i == 7 {
				chop = 997
			}
			kill := seconds(1)
			if n > 128 {
				kill = seconds(10)
			}
			desc := fmt.Sprintf("Send one %s message of %d octets.", kind, n)
			if chop > 0 {
				desc = fmt.Sprintf("Send one %s message of %d octets, written to the socket in pieces of %d octets.", kind, n, chop)
			}
			specs = append(specs, &caseSpec{
				id:     fmt.Sprintf("1.%d.%d", sub+1, i+1),
				desc:   desc,
				expect: fmt.Sprintf("The same %s message comes back. Clean close with code 1000.", kind),
				limit:  kill,
				open: func(r *run) {
					r.expect(OK, msgEvent(payload, binaryMsg))
					r.closeNormally()
					r.sendFrame(opcode, payload, withChop(chop))
					r.killAfter(kill)
				},
			})
		}
	}
	return specs, map[string]string{"1.1": "Text Messages", "1.2": "Binary Messages"}
}

// Section 2: pings and pongs.
func section2() ([]*caseSpec, map[string]string) {
	pingEcho := func(id, desc string, payload []byte, chop int, wait float64) *caseSpec {
		return &caseSpec{
			id:     id,
			desc:   desc,
			expect: "A pong with the ping's payload comes back. Clean close with code 1000.",
			limit:  seconds(wait),
			open: func(r *run) {
				r.expect(OK, event{kind: "pong", data: payload})
				r.closeNormally()
				r.sendFrame(9, payload, withChop(chop))
				r.closeAfter(seconds(wait))
			},
		}
	}
	tenPings := func(id string, chop int) *caseSpec {
		desc := "Send ten pings, each with its own payload."
		if chop > 0 {
			desc = "Send ten pings, each with its own payload, written one octet at a time."
		}
		return &caseSpec{
			id:     id,
			desc:   desc,
			expect: "A pong for every ping, in order, with the ping's payload (the RFC allows answering only the latest ping; this case checks for all of them). Clean close with code 1000.",
			limit:  seconds(3),
			open: func(r *run) {
				var pongs []event
				for i := range 10 {
					p := fmt.Sprintf("payload-%d", i)
					pongs = append(pongs, pongEvent(p))
					r.sendFrame(9, []byte(p), withChop(chop))
				}
				r.expect(OK, pongs...)
				r.closeNormally()
				r.closeAfter(seconds(3))
			},
		}
	}
	unsolicited := func(id string, payload string) *caseSpec {
		desc := "Send a pong nobody asked for, with an empty payload, then close."
		if payload != "" {
			desc = "Send a pong nobody asked for, with a payload, then close."
		}
		return &caseSpec{
			id:     id,
			desc:   desc,
			expect: "Nothing comes back for the pong. Clean close with code 1000.",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK)
				r.closeNormally()
				r.sendFrame(10, []byte(payload))
				r.closeWith(closeNormal)
				r.closeAfter(seconds(1))
			},
		}
	}
	specs := []*caseSpec{
		pingEcho("2.1", "Send a ping with an empty payload.", []byte{}, 0, 1),
		pingEcho("2.2", "Send a ping with a short text payload.", []byte("Hello, world!"), 0, 1),
		pingEcho("2.3", "Send a ping with a short binary payload that is not UTF-8.", []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}, 0, 1),
		pingEcho("2.4", "Send a ping with a binary payload of 125 octets, the largest a control frame may carry.", bytes.Repeat([]byte{0xfe}, 125), 0, 1),
		{
			id:     "2.5",
			desc:   "Send a ping with a binary payload of 126 octets, one more than a control frame may carry.",
			expect: "The server fails the connection at once with 1002 (protocol error).",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK)
				r.serverFails(closeProtocolError)
				r.sendFrame(9, bytes.Repeat([]byte{0xfe}, 126))
				r.killAfter(seconds(1))
			},
		},
		pingEcho("2.6", "Send a ping with a binary payload of 125 octets, written one octet at a time.", bytes.Repeat([]byte{0xfe}, 125), 1, 2),
		unsolicited("2.7", ""),
		unsolicited("2.8", "unsolicited pong payload"),
		{
			id:     "2.9",
			desc:   "Send a pong nobody asked for, then a ping with a payload.",
			expect: "Nothing for the pong; a pong with the ping's payload for the ping. Clean close with code 1000.",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK, pongEvent("ping payload"))
				r.closeNormally()
				r.sendFrame(10, []byte("unsolicited pong payload"))
				r.sendFrame(9, []byte("ping payload"))
				r.closeAfter(seconds(1))
			},
		},
		tenPings("2.10", 0),
		tenPings("2.11", 1),
	}
	return specs, nil
}
