package autobahn

import (
	"bytes"
	"fmt"
	"time"
)

// sizeLabel renders 64 KiB as "64k" and 4 MiB as "4M", as the case texts do.
func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dk", n>>10)
	}
	return fmt.Sprint(n)
}

// bigEcho is the shape of sections 9.1 to 9.6: one large message is sent
// (as one frame, in fragments, or chopped into small writes) and its echo
// must come back, of the right type and length, within wait.
func bigEcho(id, desc string, binaryMsg bool, length int, wait time.Duration, send func(r *run)) *caseSpec {
	kind := "text"
	if binaryMsg {
		kind = "binary"
	}
	return &caseSpec{
		id:     id,
		desc:   desc,
		expect: fmt.Sprintf("The %s message comes back with the length sent.", kind),
		limit:  wait,
		open: func(r *run) {
			r.reportTime = true
			r.wirelogOn = false
			r.behavior = Failed
			r.closeNormally()
			r.result = fmt.Sprintf("No message came back within %s.", wait)
			r.onMessage = func(payload []byte, isBinary bool) {
				switch {
				case isBinary != binaryMsg:
					r.result = fmt.Sprintf("A message of the wrong type came back (binary: %v).", isBinary)
				case len(payload) != length:
					r.result = fmt.Sprintf("A %s message of %d octets came back, want %d.", kind, len(payload), length)
				default:
					r.behavior = OK
					r.result = fmt.Sprintf("A %s message of %d octets came back.", kind, len(payload))
				}
				r.wirelogOn = true
				r.closeWith(closeNormal)
			}
			send(r)
			r.closeAfter(wait)
		},
	}
}

// Section 9: limits and performance.
func section9() ([]*caseSpec, map[string]string) {
	var specs []*caseSpec
	textPattern, binPattern := []byte("BAsd7&jh23"), []byte{0x00, 0xfe, 0x23, 0xfa, 0xf0}
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	textWaits := []int{10, 10, 100, 100, 100, 100}
	binWaits := []int{10, 10, 10, 10, 100, 100}
	for i, n := range sizes {
		n := n
		specs = append(specs,
			bigEcho(fmt.Sprintf("9.1.%d", i+1), fmt.Sprintf("Send a text message of %s octets in one frame.", sizeLabel(n)), false, n, time.Duration(textWaits[i])*time.Second, func(r *run) {
				r.sendFrame(1, textPattern, withRepeat(n))
			}),
			bigEcho(fmt.Sprintf("9.2.%d", i+1), fmt.Sprintf("Send a binary message of %s octets in one frame.", sizeLabel(n)), true, n, time.Duration(binWaits[i])*time.Second, func(r *run) {
				r.sendFrame(2, binPattern, withRepeat(n))
			}),
		)
	}
	frags := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	const fragTotal = 4 << 20
	for i, f := range frags {
		f := f
		// 9.4.1 sends 0xfe octets, the later 9.4.x cases '*', as in the original.
		binPayload := bytes.Repeat([]byte{'*'}, fragTotal)
		if i == 0 {
			binPayload = bytes.Repeat([]byte{0xfe}, fragTotal)
		}
		specs = append(specs,
			bigEcho(fmt.Sprintf("9.3.%d", i+1), fmt.Sprintf("Send a text message of 4M octets in fragments of %s octets.", sizeLabel(f)), false, fragTotal, 100*time.Second, func(r *run) {
				r.sendMessage(bytes.Repeat([]byte{'*'}, fragTotal), false, f)
			}),
			bigEcho(fmt.Sprintf("9.4.%d", i+1), fmt.Sprintf("Send a binary message of 4M octets in fragments of %s octets.", sizeLabel(f)), true, fragTotal, 100*time.Second, func(r *run) {
				r.sendMessage(binPayload, true, f)
			}),
		)
	}
	for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
		chop := chop
		specs = append(specs,
			bigEcho(fmt.Sprintf("9.5.%d", i+1), fmt.Sprintf("Send a text message of 1M octets in one frame, written in pieces of %d octets.", chop), false, 1<<20, 1000*time.Second, func(r *run) {
				r.sendFrame(1, textPattern, withRepeat(1<<20), withChop(chop))
			}),
			bigEcho(fmt.Sprintf("9.6.%d", i+1), fmt.Sprintf("Send a binary message of 1M octets in one frame, written in pieces of %d octets.", chop), true, 1<<20, 1000*time.Second, func(r *run) {
				r.sendFrame(2, binPattern, withRepeat(1<<20), withChop(chop))
			}),
		)
	}
	for _, binaryMsg := range []bool{false, true} {
		sub, kind := 7, "text"
		if binaryMsg {
			sub, kind = 8, "binary"
		}
		for i, t := range []struct{ size, wait int }{{0, 60}, {16, 60}, {64, 60}, {256, 120}, {1024, 240}, {4096, 480}} {
			specs = append(specs, roundTrips(fmt.Sprintf("9.%d.%d", sub, i+1), kind, binaryMsg, t.size, 1000, time.Duration(t.wait)*time.Second))
		}
	}
	return specs, map[string]string{
		"9.1": "Text Message (increasing size)",
		"9.2": "Binary Message (increasing size)",
		"9.3": "Fragmented Text Message (fixed size, increasing fragment size)",
		"9.4": "Fragmented Binary Message (fixed size, increasing fragment size)",
		"9.5": "Text Message (fixed size, increasing chop size)",
		"9.6": "Binary Text Message (fixed size, increasing chop size)",
		"9.7": "Text Message Roundtrip Time (fixed number, increasing size)",
		"9.8": "Binary Message Roundtrip Time (fixed number, increasing size)",
	}
}

// roundTrips is 9.7.x and 9.8.x: count messages of one size, one at a time,
// each sent when the previous echo arrived.
func roundTrips(id, kind string, binaryMsg bool, size, count int, wait time.Duration) *caseSpec {
	opcode, pattern := byte(1), []byte("*")
	if binaryMsg {
		opcode, pattern = 2, []byte{0xfe}
	}
	return &caseSpec{
		id:     id,
		desc:   fmt.Sprintf("Send %d %s messages of %d octets, one after the other, to measure the round trip time.", count, kind, size),
		expect: fmt.Sprintf("Every %s message comes back as sent. The case ends after %s.", kind, wait),
		limit:  wait,
		open: func(r *run) {
			r.reportTime = true
			r.enableWirelog(false)
			r.behavior = Failed
			r.closeNormally()
			r.result = fmt.Sprintf("The case did not finish within %s.", wait)
			r.closeAfter(wait)
			sent := 0
			sendOne := func() {
				r.sendFrame(opcode, pattern, withRepeat(size))
				sent++
			}
			r.onMessage = func(payload []byte, isBinary bool) {
				switch {
				case isBinary != binaryMsg || len(payload) != size:
					r.behavior = Failed
					r.result = fmt.Sprintf("An echo differs in type or length (binary: %v, length: %d).", isBinary, len(payload))
					r.enableWirelog(true)
					r.closeWith(closeNormal)
				case sent < count:
					sendOne()
				default:
					r.behavior = OK
					r.result = "All echoes arrived in time."
					r.enableWirelog(true)
					r.closeWith(closeNormal)
				}
			}
			sendOne()
		},
	}
}

// Section 10: auto-fragmentation.
func section10() ([]*caseSpec, map[string]string) {
	payload := bytes.Repeat([]byte{'*'}, 65536)
	const frag = 1300
	return []*caseSpec{{
		id:     "10.1.1",
		desc:   fmt.Sprintf("Send a text message of 65536 octets, split automatically into frames of %d octets.", frag),
		expect: "The message is echoed and the number of frames sent is as planned. Clean close with code 1000.",
		limit:  10 * time.Second,
		open: func(r *run) {
			r.autoFragmentSize = frag
			r.expect(OK, msgEvent(payload, false))
			r.closeNormally()
			r.sendMessage(payload, false, 0)
			r.killAfter(10 * time.Second)
		},
		lost: func(r *run) {
			if !r.connectionWasOpen {
				r.behavior = Failed
				r.result = "The connection never opened."
				return
			}
			wantCont := len(payload) / frag
			wantText := 0
			if len(payload)%frag > 0 {
				wantText = 1
			}
			if r.txFrames[0] != wantCont || r.txFrames[1] != wantText {
				r.behavior = Failed
				r.result = fmt.Sprintf("Sent %d continuation and %d text frames, planned %d and %d.", r.txFrames[0], r.txFrames[1], wantCont, wantText)
			}
		},
	}}, map[string]string{"10.1": "Auto-Fragmentation"}
}
