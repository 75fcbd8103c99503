package autobahn

import "fmt"

const hello = "Hello, world!"

// failFast is the shape of most cases in sections 3 to 5: send something
// the server must reject and expect it to fail the connection with 1002.
// When lead is true a valid text message goes first, whose echo may or may
// not arrive before the failure (OK with the echo, NON-STRICT without).
func failFast(id, desc, expect string, lead bool, send func(r *run)) *caseSpec {
	return &caseSpec{
		id:     id,
		desc:   desc,
		expect: expect,
		limit:  seconds(1),
		open: func(r *run) {
			if lead {
				r.expect(OK, textMsg(hello))
				r.expect(NonStrict)
			} else {
				r.expect(OK)
			}
			r.serverFails(closeProtocolError)
			send(r)
			r.killAfter(seconds(1))
		},
	}
}

// Section 3: reserved bits.
func section3() ([]*caseSpec, map[string]string) {
	const failRSV = "The server fails the connection at once with 1002: no extension gives the reserved bits a meaning."
	const failRSVAfterEcho = "The first message is echoed, then the server fails the connection at once with 1002: no extension gives the reserved bits a meaning. No pong comes back."
	bin := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	specs := []*caseSpec{
		failFast("3.1", "Send a short text message with RSV = 1.", failRSV, false, func(r *run) {
			r.sendFrame(1, []byte(hello), withRSV(1))
		}),
		failFast("3.2", "Send a short text message, the same message with RSV = 2, then a ping.", failRSVAfterEcho, true, func(r *run) {
			r.sendFrame(1, []byte(hello))
			r.sendFrame(1, []byte(hello), withRSV(2))
			r.sendFrame(9, nil)
		}),
		failFast("3.3", "Send a short text message, the same message with RSV = 3, then a ping; each frame written on its own.", failRSVAfterEcho, true, func(r *run) {
			r.sendFrame(1, []byte(hello), withSync(true))
			r.sendFrame(1, []byte(hello), withRSV(3), withSync(true))
			r.sendFrame(9, nil, withSync(true))
		}),
		failFast("3.4", "Send a short text message, the same message with RSV = 4, then a ping; written one octet at a time.", failRSVAfterEcho, true, func(r *run) {
			r.sendFrame(1, []byte(hello), withChop(1))
			r.sendFrame(1, []byte(hello), withRSV(4), withChop(1))
			r.sendFrame(9, nil, withChop(1))
		}),
		failFast("3.5", "Send a short binary message with RSV = 5.", failRSV, false, func(r *run) {
			r.sendFrame(2, bin, withRSV(5))
		}),
		// The official case 3.6 is described as a ping but sends a binary frame; so does this one.
		failFast("3.6", "Send a binary frame with RSV = 6.", failRSV, false, func(r *run) {
			r.sendFrame(2, []byte(hello), withRSV(6))
		}),
		failFast("3.7", "Send a close frame with RSV = 7.", failRSV, false, func(r *run) {
			r.sendFrame(8, nil, withRSV(7))
		}),
	}
	return specs, nil
}

// Section 4: opcodes.
func section4() ([]*caseSpec, map[string]string) {
	const fail = "The server fails the connection at once with 1002."
	const failAfterEcho = "The first message is echoed, then the server fails the connection at once because of the reserved opcode. No pong comes back."
	var specs []*caseSpec
	for sub, base := range []byte{3, 11} {
		kind := "non-control"
		if base == 11 {
			kind = "control"
		}
		n := sub + 1
		op := base
		specs = append(specs,
			failFast(fmt.Sprintf("4.%d.1", n), fmt.Sprintf("Send a frame with the reserved %s opcode %d.", kind, op), fail, false, func(r *run) {
				r.sendFrame(op, nil)
			}),
			failFast(fmt.Sprintf("4.%d.2", n), fmt.Sprintf("Send a frame with the reserved %s opcode %d and a payload.", kind, op+1), fail, false, func(r *run) {
				r.sendFrame(op+1, []byte("reserved opcode payload"))
			}),
			failFast(fmt.Sprintf("4.%d.3", n), fmt.Sprintf("Send a short text message, a frame with the reserved %s opcode %d, then a ping.", kind, op+2), failAfterEcho, true, func(r *run) {
				r.sendFrame(1, []byte(hello))
				r.sendFrame(op+2, nil)
				r.sendFrame(9, nil)
			}),
			failFast(fmt.Sprintf("4.%d.4", n), fmt.Sprintf("Send a short text message, a frame with the reserved %s opcode %d and a payload, then a ping.", kind, op+3), failAfterEcho, true, func(r *run) {
				r.sendFrame(1, []byte(hello))
				r.sendFrame(op+3, []byte(hello))
				r.sendFrame(9, nil)
			}),
			failFast(fmt.Sprintf("4.%d.5", n), fmt.Sprintf("Send a short text message, a frame with the reserved %s opcode %d and a payload, then a ping; written one octet at a time.", kind, op+4), failAfterEcho, true, func(r *run) {
				r.sendFrame(1, []byte(hello), withChop(1))
				r.sendFrame(op+4, []byte(hello), withChop(1))
				r.sendFrame(9, nil, withChop(1))
			}),
		)
	}
	return specs, map[string]string{"4.1": "Non-control Opcodes", "4.2": "Control Opcodes"}
}

// Section 5: fragmentation.
func section5() ([]*caseSpec, map[string]string) {
	const failNothing = "The server fails the connection at once: there is no message to continue."
	echo := func(id, desc, expect string, pong bool, opt func() frameOpt) *caseSpec {
		return &caseSpec{
			id:     id,
			desc:   desc,
			expect: expect,
			limit:  seconds(1),
			open: func(r *run) {
				if pong {
					r.expect(OK, pongEvent("ping payload"), textMsg("fragment1fragment2"))
				} else {
					r.expect(OK, textMsg("fragment1fragment2"))
				}
				r.closeNormally()
				r.sendFrame(1, []byte("fragment1"), notFin(), opt())
				if pong {
					r.sendFrame(9, []byte("ping payload"), opt())
				}
				r.sendFrame(0, []byte("fragment2"), opt())
				r.closeAfter(seconds(1))
			},
		}
	}
	none := func() frameOpt { return withSync(false) }
	sync := func() frameOpt { return withSync(true) }
	octets := func() frameOpt { return withChop(1) }

	// orphan sends a continuation frame with nothing to continue, then a text message.
	orphan := func(id, desc string, fin bool, opt func() frameOpt) *caseSpec {
		return failFast(id, desc, failNothing, false, func(r *run) {
			r.sendFrame(0, []byte("non-continuation payload"), withFin(fin), opt())
			r.sendFrame(1, []byte(hello), opt())
		})
	}
	repeated := func(id, desc string, fin bool) *caseSpec {
		return failFast(id, desc, failNothing, false, func(r *run) {
			for range 2 {
				r.sendFrame(0, []byte("fragment1"), withFin(fin))
				r.sendFrame(1, []byte("fragment2"), notFin())
				r.sendFrame(0, []byte("fragment3"))
			}
		})
	}
	specs := []*caseSpec{
		failFast("5.1", "Send a ping split into two fragments.", "The server fails the connection at once: control frames must not be fragmented.", false, func(r *run) {
			r.sendFrame(9, []byte("fragment1"), notFin())
			r.sendFrame(0, []byte("fragment2"))
		}),
		failFast("5.2", "Send a pong split into two fragments.", "The server fails the connection at once: control frames must not be fragmented.", false, func(r *run) {
			r.sendFrame(10, []byte("fragment1"), notFin())
			r.sendFrame(0, []byte("fragment2"))
		}),
		echo("5.3", "Send a text message in two fragments.", "The whole message is echoed.", false, none),
		echo("5.4", "Send a text message in two fragments, each frame written on its own.", "The whole message is echoed.", false, sync),
		echo("5.5", "Send a text message in two fragments, written one octet at a time.", "The whole message is echoed.", false, octets),
		echo("5.6", "Send a text message in two fragments with a ping between them.", "The pong comes back first, then the whole message.", true, none),
		echo("5.7", "Send a text message in two fragments with a ping between them, each frame written on its own.", "The pong comes back first, then the whole message.", true, sync),
		echo("5.8", "Send a text message in two fragments with a ping between them, written one octet at a time.", "The pong comes back first, then the whole message.", true, octets),
		orphan("5.9", "Send a final continuation frame with nothing to continue, then a text message, in one write.", true, none),
		orphan("5.10", "Send a final continuation frame with nothing to continue, then a text message, each frame written on its own.", true, sync),
		orphan("5.11", "Send a final continuation frame with nothing to continue, then a text message, written one octet at a time.", true, octets),
		orphan("5.12", "Send a non-final continuation frame with nothing to continue, then a text message, in one write.", false, none),
		orphan("5.13", "Send a non-final continuation frame with nothing to continue, then a text message, each frame written on its own.", false, sync),
		orphan("5.14", "Send a non-final continuation frame with nothing to continue, then a text message, written one octet at a time.", false, octets),
		{
			id:     "5.15",
			desc:   "Send a text message in two fragments, then a non-final continuation frame with nothing to continue, then a text frame, in one write.",
			expect: "The two-fragment message may be echoed; then the server fails the connection at once: there is no message to continue.",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK, textMsg("fragment1fragment2"))
				r.expect(NonStrict)
				r.serverFails(closeProtocolError)
				r.sendFrame(1, []byte("fragment1"), notFin())
				r.sendFrame(0, []byte("fragment2"))
				r.sendFrame(0, []byte("fragment3"), notFin())
				r.sendFrame(1, []byte("fragment4"))
				r.killAfter(seconds(1))
			},
		},
		repeated("5.16", "Twice: a non-final continuation frame with nothing to continue, then a text message in two fragments.", false),
		repeated("5.17", "Twice: a final continuation frame with nothing to continue, then a text message in two fragments.", true),
		failFast("5.18", "Send a text message in two fragments whose second frame also has the text opcode.", "The server fails the connection at once: frames after the first of a message must be continuation frames.", false, func(r *run) {
			r.sendFrame(1, []byte("fragment1"), notFin())
			r.sendFrame(1, []byte("fragment2"))
		}),
		interleavedPings("5.19", false),
		interleavedPings("5.20", true),
	}
	return specs, nil
}

// interleavedPings is cases 5.19 and 5.20: a text message in five
// fragments with a ping after the second and after the fourth, and a one
// second pause after the first ping.
func interleavedPings(id string, sync bool) *caseSpec {
	desc := "Send a text message in five fragments: two fragments and a ping, wait one second, two more fragments, another ping, the last fragment. All of it is legal."
	expect := "Each ping is answered at once, before the message is complete, with its payload; then the whole message is echoed."
	if sync {
		desc = "As 5.19, but every frame is written on its own; the octets sent are the same."
		expect = "As 5.19: the server must not depend on how the octet stream is split into TCP segments."
	}
	frags := []string{"fragment1", "fragment2", "fragment3", "fragment4", "fragment5"}
	pings := []string{"pongme 1!", "pongme 2!"}
	return &caseSpec{
		id:     id,
		desc:   desc,
		expect: expect,
		limit:  seconds(2),
		open: func(r *run) {
			r.expect(OK, pongEvent(pings[0]), pongEvent(pings[1]), textMsg("fragment1fragment2fragment3fragment4fragment5"))
			r.closeNormally()
			r.sendFrame(1, []byte(frags[0]), notFin(), withSync(sync))
			r.sendFrame(0, []byte(frags[1]), notFin(), withSync(sync))
			r.sendFrame(9, []byte(pings[0]), withSync(sync))
			r.continueLater(seconds(1), "", func() {
				r.sendFrame(0, []byte(frags[2]), notFin(), withSync(sync))
				r.sendFrame(0, []byte(frags[3]), notFin(), withSync(sync))
				r.sendFrame(9, []byte(pings[1]), withSync(sync))
				r.sendFrame(0, []byte(frags[4]), withSync(sync))
				r.closeAfter(seconds(1))
			})
		},
	}
}
