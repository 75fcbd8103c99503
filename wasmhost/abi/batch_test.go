package abi

import (
	"bytes"
	"testing"
)

type batchMsg struct {
	flags uint32
	data  string
}

func encodeBatch(msgs []batchMsg) []byte {
	b := AppendBatchHeader(nil)
	for _, m := range msgs {
		b = AppendBatchMessage(b, m.flags, []byte(m.data))
	}
	return b
}

// goldenBatch is the batch pinned by testdata/batch_v1_1.bin: text, binary
// with every byte value class, an empty text message, and UTF-8.
var goldenBatch = []batchMsg{
	{0, "hello"},
	{FlagBinary, "\x00\x01\xfe\xff"},
	{0, ""},
	{0, "grüße"},
}

func TestBatchGolden(t *testing.T) {
	t.Parallel()
	enc := encodeBatch(goldenBatch)
	golden(t, "batch_v1_1.bin", enc)
	if len(enc) != BatchSize(len(goldenBatch), 5+4+0+len("grüße")) {
		t.Fatalf("BatchSize disagrees with the encoding: %d bytes", len(enc))
	}
	r, err := ReadBatch(enc, uint32(len(goldenBatch)))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range goldenBatch {
		if r.Len() != len(goldenBatch)-i {
			t.Fatalf("Len = %d before message %d", r.Len(), i)
		}
		flags, data, ok := r.Next()
		if !ok || flags != want.flags || string(data) != want.data {
			t.Fatalf("message %d = %d %q %v, want %d %q", i, flags, data, ok, want.flags, want.data)
		}
		if cap(data) != len(data) {
			t.Fatalf("message %d has spare capacity %d", i, cap(data)-len(data))
		}
	}
	if _, _, ok := r.Next(); ok {
		t.Fatal("Next after the last message")
	}
}

func TestReadBatch(t *testing.T) {
	t.Parallel()
	two := encodeBatch([]batchMsg{{0, "a"}, {FlagBinary, "bc"}})
	tests := []struct {
		name    string
		in      []byte
		count   uint32
		wantErr bool
	}{
		{"two", two, 2, false},
		{"empty batch", AppendBatchHeader(nil), 0, false},
		{"no header", nil, 0, true},
		{"short header", []byte{0, 0}, 0, true},
		{"fewer than count", two, 3, true},
		{"more than count", two, 1, true},
		{"trailing byte", append(append([]byte{}, two...), 0), 2, true},
		{"truncated data", two[:len(two)-1], 2, true},
		{"truncated header", two[:BatchHeaderSize+3], 1, true},
		{"huge length", append(AppendBatchHeader(nil), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 1, true},
		{"huge count", two, 1 << 31, true},
		{"flag bits above the low byte", withFlags(two, 0x100), 2, true},
		{"unknown flag bits in the low byte", withFlags(two, 0x80|FlagBinary), 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ReadBatch(tc.in, tc.count)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && r.Len() != 0 {
				t.Fatalf("a failed ReadBatch returned a reader of %d", r.Len())
			}
		})
	}
}

// withFlags returns a copy of batch b with the flags of its first
// message set to fl.
func withFlags(b []byte, fl uint32) []byte {
	c := append([]byte{}, b...)
	putU32(c[BatchHeaderSize:], fl)
	return c
}

func TestBatchProgressAndHeader(t *testing.T) {
	t.Parallel()
	b := encodeBatch([]batchMsg{{0, "x"}})
	if BatchProgress(b) != 0 {
		t.Fatalf("progress = %d", BatchProgress(b))
	}
	PutBatchProgress(b, 0x01020304)
	if BatchProgress(b) != 0x01020304 || !bytes.Equal(b[:4], []byte{4, 3, 2, 1}) {
		t.Fatalf("progress word = %x", b[:4])
	}
	if _, err := ReadBatch(b, 1); err != nil {
		t.Fatalf("the progress word is part of the format: %v", err)
	}
	PutBatchProgress(nil, 1) // too short: nothing, no panic
	if BatchProgress([]byte{1}) != 0 {
		t.Fatal("progress of a short buffer")
	}
	in := make([]byte, BatchMessageHeaderSize)
	PutBatchMessageHeader(in, FlagBinary, 300)
	if want := AppendBatchMessage(nil, FlagBinary, make([]byte, 300))[:BatchMessageHeaderSize]; !bytes.Equal(in, want) {
		t.Fatalf("PutBatchMessageHeader = %x, AppendBatchMessage %x", in, want)
	}
}

// FuzzReadBatch feeds ReadBatch arbitrary bytes and counts: it never
// panics, and whatever it accepts re-encodes to the same bytes (with the
// progress word cleared).
func FuzzReadBatch(f *testing.F) {
	f.Add(encodeBatch(goldenBatch), uint32(len(goldenBatch)))
	f.Add(AppendBatchHeader(nil), uint32(0))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, count uint32) {
		r, err := ReadBatch(b, count)
		if err != nil {
			return
		}
		if r.Len() != int(count) {
			t.Fatalf("Len = %d, count %d", r.Len(), count)
		}
		again := AppendBatchHeader(nil)
		for i := uint32(0); i < count; i++ {
			flags, data, ok := r.Next()
			if !ok {
				t.Fatalf("message %d of %d missing", i, count)
			}
			again = AppendBatchMessage(again, flags, data)
		}
		if _, _, ok := r.Next(); ok {
			t.Fatal("more messages than count")
		}
		if !bytes.Equal(again[BatchHeaderSize:], b[BatchHeaderSize:]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
	})
}
