package autobahn

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// The UTF-8 payloads of section 6. The sample is Greek "kosme".
var (
	kosme         = []byte{0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5}
	helloUTF8     = []byte("Hello-µ@ßöäüàá-UTF-8!!")
	helloUTF8Head = []byte("Hello-µ@ßöä")
	helloUTF8Tail = []byte("üàá-UTF-8!!")
	edited        = []byte("edited")
)

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// utf8Echo expects a valid text message to come back unchanged.
func utf8Echo(id, desc string, payload []byte, send func(r *run)) *caseSpec {
	return &caseSpec{
		id:     id,
		desc:   desc,
		expect: "The message is echoed.",
		limit:  seconds(1),
		open: func(r *run) {
			r.expect(OK, textMsg(string(payload)))
			r.closeNormally()
			send(r)
			r.closeAfter(seconds(1))
		},
	}
}

// rejectUTF8 expects the server to fail the connection with 1007. If the
// client has to close instead, the server missed the invalid UTF-8 and the
// case fails.
func (r *run) rejectUTF8() {
	r.expectClose(closeExpectation{codes: []int{closeInvalidPayload}, wrongEndpointFatal: true})
}

// Section 6: UTF-8 handling.
func section6() ([]*caseSpec, map[string]string) {
	invalid := concat(kosme, []byte{0xed, 0xa0, 0x80}, edited) // a surrogate at octet 12
	specs := []*caseSpec{
		utf8Echo("6.1.1", "Send a text message of length 0.", nil, func(r *run) {
			r.sendFrame(1, nil)
		}),
		utf8Echo("6.1.2", "Send a text message in three fragments, each of length 0.", nil, func(r *run) {
			r.sendFrame(1, nil, notFin())
			r.sendFrame(0, nil, notFin())
			r.sendFrame(0, nil)
		}),
		utf8Echo("6.1.3", "Send a text message in three fragments, the first and last empty, the middle one not.", []byte("middle frame payload"), func(r *run) {
			r.sendFrame(1, nil, notFin())
			r.sendFrame(0, []byte("middle frame payload"), notFin())
			r.sendFrame(0, nil)
		}),
		utf8Echo("6.2.1", "Send a valid UTF-8 text message in one frame. Payload: 0x"+hex.EncodeToString(helloUTF8), helloUTF8, func(r *run) {
			r.sendMessage(helloUTF8, false, 0)
		}),
		utf8Echo("6.2.2", "Send a valid UTF-8 text message in two frames split on a code point boundary. Payloads: 0x"+hex.EncodeToString(helloUTF8Head)+" and 0x"+hex.EncodeToString(helloUTF8Tail), concat(helloUTF8Head, helloUTF8Tail), func(r *run) {
			r.sendFrame(1, helloUTF8Head, notFin())
			r.sendFrame(0, helloUTF8Tail)
		}),
		utf8Echo("6.2.3", "Send a valid UTF-8 text message in frames of one octet, so most frames end inside a code point. Payload: 0x"+hex.EncodeToString(helloUTF8), helloUTF8, func(r *run) {
			r.sendMessage(helloUTF8, false, 1)
		}),
		utf8Echo("6.2.4", "Send a valid UTF-8 text message in frames of one octet, so most frames end inside a code point. Payload: 0x"+hex.EncodeToString(kosme), kosme, func(r *run) {
			r.sendMessage(kosme, false, 1)
		}),
		{
			id:     "6.3.1",
			desc:   "Send an invalid UTF-8 text message in one frame. Payload: 0x" + hex.EncodeToString(invalid),
			expect: "The server fails the connection at once (1007): the payload is not UTF-8.",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK)
				r.rejectUTF8()
				r.sendMessage(invalid, false, 0)
				r.killAfter(seconds(1))
			},
		},
		{
			id:     "6.3.2",
			desc:   "Send an invalid UTF-8 text message in frames of one octet. Payload: 0x" + hex.EncodeToString(invalid),
			expect: "The server fails the connection at once (1007): the payload is not UTF-8.",
			limit:  seconds(1),
			open: func(r *run) {
				r.expect(OK)
				r.rejectUTF8()
				r.sendMessage(invalid, false, 1)
				r.killAfter(seconds(1))
			},
		},
	}
	specs = append(specs, failFastUTF8()...)
	subs := map[string]string{
		"6.1": "Valid UTF-8 with zero payload fragments",
		"6.2": "Valid UTF-8 unfragmented, fragmented on code-points and within code-points",
		"6.3": "Invalid UTF-8 differently fragmented",
		"6.4": "Fail-fast on invalid UTF-8",
	}
	for i, group := range utf8Sequences() {
		sub := fmt.Sprintf("6.%d", i+5)
		subs[sub] = group.title
		for j, seq := range group.seqs {
			specs = append(specs, utf8SequenceCase(fmt.Sprintf("%s.%d", sub, j+1), seq))
		}
	}
	return specs, subs
}

func utf8SequenceCase(id string, seq utf8Seq) *caseSpec {
	payload := seq.data
	s := &caseSpec{id: id, limit: seconds(0.5)}
	if seq.valid {
		s.desc = "Send a text message in one frame whose payload is valid UTF-8. Payload: 0x" + hex.EncodeToString(payload)
		s.expect = "The message is echoed."
	} else {
		s.desc = "Send a text message in one frame whose payload is not valid UTF-8. Payload: 0x" + hex.EncodeToString(payload)
		s.expect = "The server fails the connection at once (1007): the payload is not UTF-8."
	}
	s.open = func(r *run) {
		if seq.valid {
			r.expect(OK, textMsg(string(payload)))
			r.closeNormally()
		} else {
			r.expect(OK)
			r.rejectUTF8()
		}
		r.sendMessage(payload, false, 0)
		r.killAfter(seconds(0.5))
	}
	return s
}

// failFastUTF8 is section 6.4: an invalid message is sent in three parts
// with a one second pause after the first and the second. A server that
// rejects the message as soon as the invalid octet arrives gets OK; one
// that notices only at the end gets NON-STRICT; one that never notices
// fails.
func failFastUTF8() []*caseSpec {
	part1, part2, part3 := kosme, []byte{0xf4, 0x90, 0x80, 0x80}, edited // U+110000 is out of range
	whole := concat(part1, part2, part3)
	type split struct {
		id, desc string
		parts    [3][]byte
		stream   bool
	}
	splits := []split{
		{"6.4.1", "Send an invalid UTF-8 text message in three frames: a valid first frame, a pause, a frame that makes the message invalid (an encoded 0x110000, beyond the last code point), a pause, the rest.", [3][]byte{part1, part2, part3}, false},
		{"6.4.2", "As 6.4.1, but the second frame ends with the very octet that makes the message invalid.", [3][]byte{whole[:12], whole[12:13], whole[13:]}, false},
		{"6.4.3", "As 6.4.1, but the three parts are pieces of one frame rather than three frames.", [3][]byte{part1, part2, part3}, true},
		{"6.4.4", "As 6.4.2, but the three parts are pieces of one frame rather than three frames.", [3][]byte{whole[:12], whole[12:13], whole[13:]}, true},
	}
	var specs []*caseSpec
	for _, sp := range splits {
		p := sp.parts
		stream := sp.stream
		desc := fmt.Sprintf("%s Parts: 0x%s, 0x%s, 0x%s", sp.desc, hex.EncodeToString(p[0]), hex.EncodeToString(p[1]), hex.EncodeToString(p[2]))
		specs = append(specs, &caseSpec{
			id:     sp.id,
			desc:   desc,
			expect: "The first part is accepted, so the first pause passes. The server should fail the connection (1007) as soon as the second part arrives; failing after the second pause, once the message is complete, is non-strict.",
			limit:  seconds(3),
			open: func(r *run) {
				r.expect(OK, timeoutEvent("A"))
				r.expect(NonStrict, timeoutEvent("A"), timeoutEvent("B"))
				r.rejectUTF8()
				if stream {
					r.beginMessage()
					r.beginMessageFrame(len(whole))
					r.sendMessageFrameData(p[0])
				} else {
					r.sendFrame(1, p[0], notFin())
				}
				r.continueLater(seconds(1), "A", func() {
					if r.state != stateOpen {
						return
					}
					r.received = append(r.received, timeoutEvent("A"))
					if stream {
						r.sendMessageFrameData(p[1])
					} else {
						r.sendFrame(0, p[1], notFin())
					}
					r.continueLater(seconds(1), "B", func() {
						if r.state != stateOpen {
							return
						}
						r.received = append(r.received, timeoutEvent("B"))
						if stream {
							r.sendMessageFrameData(p[2])
							r.endMessage()
						} else {
							r.sendFrame(0, p[2])
						}
						r.killAfter(seconds(1))
					})
				})
			},
		})
	}
	return specs
}

// utf8Seq is one payload of the generated UTF-8 cases.
type utf8Seq struct {
	valid bool
	data  []byte
}

type utf8Group struct {
	title string
	seqs  []utf8Seq
}

// utf8Sequences builds the payload groups of cases 6.5 to 6.23, in the
// order of the official suite. They follow Markus Kuhn's UTF-8 decoder
// stress test: boundary code points, malformed and overlong sequences,
// surrogates, and valid oddities like non-characters.
func utf8Sequences() []utf8Group {
	valid := func(ss ...[]byte) []utf8Seq { return seqs(true, ss...) }
	bad := func(ss ...[]byte) []utf8Seq { return seqs(false, ss...) }
	b := func(x ...byte) []byte { return x }

	var groups []utf8Group
	groups = append(groups, utf8Group{"Some valid UTF-8 sequences", valid(
		[]byte("hello$world"), []byte("hello\u00a2world"), []byte("hello\u20acworld"), []byte("hello\U00024b62world"), kosme)})

	var prefixes []utf8Seq
	for i := 1; i <= len(kosme); i++ {
		prefixes = append(prefixes, utf8Seq{valid: validUTF8(kosme[:i]), data: kosme[:i]})
	}
	groups = append(groups, utf8Group{"All prefixes of a valid UTF-8 string that contains multi-byte code points", prefixes})

	groups = append(groups,
		utf8Group{"First possible sequence of a certain length", valid(b(0x00), b(0xc2, 0x80), b(0xe0, 0xa0, 0x80), b(0xf0, 0x90, 0x80, 0x80))},
		utf8Group{"First possible sequence length 5/6 (invalid codepoints)", bad(b(0xf8, 0x88, 0x80, 0x80, 0x80), b(0xfc, 0x84, 0x80, 0x80, 0x80, 0x80))},
		utf8Group{"Last possible sequence of a certain length", valid(b(0x7f), b(0xdf, 0xbf), b(0xef, 0xbf, 0xbf), b(0xf4, 0x8f, 0xbf, 0xbf))},
		utf8Group{"Last possible sequence length 4/5/6 (invalid codepoints)", bad(b(0xf7, 0xbf, 0xbf, 0xbf), b(0xfb, 0xbf, 0xbf, 0xbf, 0xbf), b(0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf))},
		utf8Group{"Other boundary conditions", append(valid(b(0xed, 0x9f, 0xbf), b(0xee, 0x80, 0x80), b(0xef, 0xbf, 0xbd), b(0xf4, 0x8f, 0xbf, 0xbf)), bad(b(0xf4, 0x90, 0x80, 0x80))...)},
	)

	// Continuation octets with no start octet; the last sample runs
	// 0x80..0xbe, stopping one short of 0xbf like the original.
	var run []byte
	for c := 0x80; c < 0xbf; c++ {
		run = append(run, byte(c))
	}
	groups = append(groups, utf8Group{"Unexpected continuation bytes", bad(
		b(0x80), b(0xbf), b(0x80, 0xbf), b(0x80, 0xbf, 0x80), b(0x80, 0xbf, 0x80, 0xbf),
		b(0x80, 0xbf, 0x80, 0xbf, 0x80), b(0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf), run)})

	// Start octets each followed by a space (half-open ranges, as in the original).
	var lonely []utf8Seq
	for _, rg := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s []byte
		for c := rg[0]; c < rg[1]; c++ {
			s = append(s, byte(c), 0x20)
		}
		lonely = append(lonely, utf8Seq{data: s})
	}
	groups = append(groups, utf8Group{"Lonely start characters", lonely})

	truncated := [][]byte{
		b(0xc0), b(0xe0, 0x80), b(0xf0, 0x80, 0x80), b(0xf8, 0x80, 0x80, 0x80), b(0xfc, 0x80, 0x80, 0x80, 0x80),
		b(0xdf), b(0xef, 0xbf), b(0xf7, 0xbf, 0xbf), b(0xfb, 0xbf, 0xbf, 0xbf), b(0xfd, 0xbf, 0xbf, 0xbf, 0xbf),
	}
	groups = append(groups,
		utf8Group{"Sequences with last continuation byte missing", bad(truncated...)},
		utf8Group{"Concatenation of incomplete sequences", bad(concat(truncated...))},
		utf8Group{"Impossible bytes", bad(b(0xfe), b(0xff), b(0xfe, 0xfe, 0xff, 0xff))},
		utf8Group{"Examples of an overlong ASCII character", bad(b(0xc0, 0xaf), b(0xe0, 0x80, 0xaf), b(0xf0, 0x80, 0x80, 0xaf), b(0xf8, 0x80, 0x80, 0x80, 0xaf), b(0xfc, 0x80, 0x80, 0x80, 0x80, 0xaf))},
		utf8Group{"Maximum overlong sequences", bad(b(0xc1, 0xbf), b(0xe0, 0x9f, 0xbf), b(0xf0, 0x8f, 0xbf, 0xbf), b(0xf8, 0x87, 0xbf, 0xbf, 0xbf), b(0xfc, 0x83, 0xbf, 0xbf, 0xbf, 0xbf))},
		utf8Group{"Overlong representation of the NUL character", bad(b(0xc0, 0x80), b(0xe0, 0x80, 0x80), b(0xf0, 0x80, 0x80, 0x80), b(0xf8, 0x80, 0x80, 0x80, 0x80), b(0xfc, 0x80, 0x80, 0x80, 0x80, 0x80))},
	)

	high := [][]byte{b(0xed, 0xa0, 0x80), b(0xed, 0xad, 0xbf), b(0xed, 0xae, 0x80), b(0xed, 0xaf, 0xbf)}
	low := [][]byte{b(0xed, 0xb0, 0x80), b(0xed, 0xbe, 0x80), b(0xed, 0xbf, 0xbf)}
	groups = append(groups, utf8Group{"Single UTF-16 surrogates", bad(append(append([][]byte{}, high...), low...)...)})
	var pairs [][]byte
	for _, h := range high {
		pairs = append(pairs, concat(h, b(0xed, 0xb0, 0x80)), concat(h, b(0xed, 0xbf, 0xbf)))
	}
	groups = append(groups, utf8Group{"Paired UTF-16 surrogates", bad(pairs...)})

	// Non-characters are valid UTF-8: U+FFFE, U+FFFF, and the last two code
	// points of planes 1 to 16.
	nonChars := [][]byte{b(0xef, 0xbf, 0xbe), b(0xef, 0xbf, 0xbf)}
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f {
				continue // beyond U+10FFFF
			}
			if z1 == 0xf0 && z2 == 0x8f {
				continue // overlong
			}
			nonChars = append(nonChars, b(z1, z2, 0xbf, 0xbe), b(z1, z2, 0xbf, 0xbf))
		}
	}
	groups = append(groups, utf8Group{"Non-character code points (valid UTF-8)", valid(nonChars...)})
	groups = append(groups, utf8Group{"Unicode specials (i.e. replacement char)", valid(
		b(0xef, 0xbf, 0xb9), b(0xef, 0xbf, 0xba), b(0xef, 0xbf, 0xbb), b(0xef, 0xbf, 0xbc),
		b(0xef, 0xbf, 0xbd), b(0xef, 0xbf, 0xbe), b(0xef, 0xbf, 0xbf))})
	return groups
}

func seqs(valid bool, ss ...[]byte) []utf8Seq {
	out := make([]utf8Seq, len(ss))
	for i, s := range ss {
		out[i] = utf8Seq{valid: valid, data: s}
	}
	return out
}
