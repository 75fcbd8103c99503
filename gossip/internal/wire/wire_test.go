package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testLimits = Limits{MaxMessages: 16, MaxField: 64, MaxData: 1 << 20}

func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msgs []Msg
	}{
		{"one text", []Msg{{Context: "1", User: "3", Path: "/socket.io/*", Data: []byte("hello")}}},
		{"binary and empty fields", []Msg{{Binary: true, Data: []byte{0, 1, 2}}, {Data: []byte{}}}},
		{"large payload", []Msg{{Context: "c", User: "u", Path: "*", Data: bytes.Repeat([]byte("x"), 512<<10)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			enc := AppendBatch(nil, 0xdeadbeef, 7, 42, tt.msgs)
			size := BatchHeaderSize
			for i := range tt.msgs {
				size += MsgSize(&tt.msgs[i])
			}
			if len(enc) > size {
				t.Fatalf("encoded %d bytes, size estimate %d", len(enc), size)
			}
			got, err := DecodeBatch(enc, testLimits)
			if err != nil {
				t.Fatalf("DecodeBatch: %v", err)
			}
			if got.Stream != 0xdeadbeef || got.Seq != 7 || got.DestBoot != 42 {
				t.Fatalf("header = %+v", got)
			}
			if len(got.Msgs) != len(tt.msgs) {
				t.Fatalf("got %d messages, want %d", len(got.Msgs), len(tt.msgs))
			}
			for i := range tt.msgs {
				w, g := tt.msgs[i], got.Msgs[i]
				if w.Context != g.Context || w.User != g.User || w.Path != g.Path || w.Binary != g.Binary || !bytes.Equal(w.Data, g.Data) {
					t.Fatalf("message %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	t.Parallel()
	good := AppendBatch(nil, 1, 1, 1, []Msg{{Context: "c", User: "u", Path: "/p", Data: []byte("d")}})
	tooMany := make([]Msg, testLimits.MaxMessages+1)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMagic},
		{"bad magic", append([]byte("EWX\x01"), good[4:]...), ErrMagic},
		{"future version", append([]byte("EWB\x02"), good[4:]...), ErrMagic},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"trailing", append(bytes.Clone(good), 0), ErrMalformed},
		{"seq zero", AppendBatch(nil, 1, 0, 1, []Msg{{}}), ErrMalformed},
		{"no messages", AppendBatch(nil, 1, 1, 1, nil), ErrMalformed},
		{"too many messages", AppendBatch(nil, 1, 1, 1, tooMany), ErrLimit},
		{"field too long", AppendBatch(nil, 1, 1, 1, []Msg{{User: strings.Repeat("u", 65)}}), ErrLimit},
		{"data too long", AppendBatch(nil, 1, 1, 1, []Msg{{Data: make([]byte, testLimits.MaxData+1)}}), ErrLimit},
		{"unknown flag", flipFlags(good), ErrMalformed},
		{"count beyond input", countBeyondInput(), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeBatch(tt.in, testLimits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeBatch error = %v, want %v", err, tt.want)
			}
		})
	}
}

// flipFlags sets an undefined flag bit on the first message of an encoded
// one-message batch whose stream, seq and boot fit the shortest encoding.
func flipFlags(good []byte) []byte {
	b := bytes.Clone(good)
	b[4+8+1+8+1] |= 0x80
	return b
}

// countBeyondInput claims 15 messages but carries the bytes of one.
func countBeyondInput() []byte {
	b := AppendBatch(nil, 1, 1, 1, []Msg{{}})
	b[4+8+1+8] = 15
	return b
}

func TestExistsQueryRoundTrip(t *testing.T) {
	t.Parallel()
	q := ExistsQuery{Context: "1337", User: "42", Path: "/socket.io/*"}
	enc, err := AppendExistsQuery(nil, q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeExistsQuery(enc)
	if err != nil || got != q {
		t.Fatalf("DecodeExistsQuery = %+v, %v; want %+v", got, err, q)
	}
	if _, err := AppendExistsQuery(nil, ExistsQuery{Path: strings.Repeat("p", MaxQueryField+1)}); !errors.Is(err, ErrLimit) {
		t.Fatalf("oversized field: err = %v, want ErrLimit", err)
	}
	long := ExistsQuery{Context: strings.Repeat("c", 60), User: "u", Path: strings.Repeat("p", MaxQueryField)}
	if _, err := AppendExistsQuery(nil, long); err != nil {
		t.Fatalf("longest path filter with a short context: %v", err)
	}
	long.User = strings.Repeat("u", 100)
	if _, err := AppendExistsQuery(nil, long); !errors.Is(err, ErrLimit) {
		t.Fatalf("oversized query: err = %v, want ErrLimit", err)
	}
	for _, bad := range [][]byte{nil, enc[:len(enc)-1], append(bytes.Clone(enc), 'x'), []byte("EWQ\x02")} {
		if _, err := DecodeExistsQuery(bad); err == nil {
			t.Fatalf("DecodeExistsQuery(%q) accepted", bad)
		}
	}
}

func TestExistsReplyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []ExistsReply{{StatusOK, 0}, {StatusOK, 1 << 40}, {StatusError, 0}, {StatusOverloaded, 0}} {
		got, err := DecodeExistsReply(AppendExistsReply(nil, r))
		if err != nil || got != r {
			t.Fatalf("round trip of %+v = %+v, %v", r, got, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("EWR\x01"), []byte("EWR\x01\x03\x00"), []byte("EWR\x01\x00\x00\x00"), []byte("EWR\x01\x00\xff")} {
		if _, err := DecodeExistsReply(bad); err == nil {
			t.Fatalf("DecodeExistsReply(%q) accepted", bad)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, 1, 1, 1, []Msg{{Context: "c", User: "u", Path: "/p", Data: []byte("d")}}))
	f.Add(AppendBatch(nil, 1<<63, 1<<40, 0, []Msg{{Binary: true}, {Path: "*"}}))
	f.Add([]byte("EWB\x01"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeBatch(in, testLimits)
		if err != nil {
			return
		}
		// Whatever decodes must survive a re-encode unchanged.
		again, err := DecodeBatch(AppendBatch(nil, b.Stream, b.Seq, b.DestBoot, b.Msgs), testLimits)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(b), normalize(again)) {
			t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, again)
		}
	})
}

// normalize maps nil and empty payloads to the same value for comparison.
func normalize(b Batch) Batch {
	for i := range b.Msgs {
		if len(b.Msgs[i].Data) == 0 {
			b.Msgs[i].Data = nil
		}
	}
	return b
}

func FuzzDecodeExistsQuery(f *testing.F) {
	enc, _ := AppendExistsQuery(nil, ExistsQuery{Context: "1", User: "2", Path: "/socket.io/*"})
	f.Add(enc)
	f.Add([]byte("EWQ\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := DecodeExistsQuery(in)
		if err != nil {
			return
		}
		enc, err := AppendExistsQuery(nil, q)
		if err != nil {
			t.Fatalf("decoded query does not encode: %v", err)
		}
		if again, err := DecodeExistsQuery(enc); err != nil || again != q {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, q)
		}
	})
}

func FuzzDecodeExistsReply(f *testing.F) {
	f.Add(AppendExistsReply(nil, ExistsReply{StatusOK, 3}))
	f.Add([]byte("EWR\x01\x02\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeExistsReply(in)
		if err != nil {
			return
		}
		if again, err := DecodeExistsReply(AppendExistsReply(nil, r)); err != nil || again != r {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, r)
		}
	})
}
