package wasmhost

import (
	"bytes"
	"testing"

	"github.com/edgews/edgews/wasmhost/abi"
)

// fuzzMsgs makes messages from fuzz input: one per byte of sizes, of
// sizes[i]*300 bytes (so that batches cross abi.MaxBatchBytes), binary
// for odd sizes, filled from data.
func fuzzMsgs(data, sizes []byte) []Msg {
	if len(sizes) > 200 {
		sizes = sizes[:200]
	}
	msgs := make([]Msg, len(sizes))
	for i, s := range sizes {
		b := make([]byte, int(s)*300)
		for j := range b {
			if len(data) > 0 {
				b[j] = data[(i+j)%len(data)]
			}
		}
		msgs[i] = Msg{Binary: s&1 == 1, Data: b}
	}
	return msgs
}

// FuzzBatchChunks checks the host's side of the batch encoding: the
// chunks of any list of messages respect abi.MaxBatchCount and
// abi.MaxBatchBytes (a lone larger message aside) and take as many
// messages as fit; putBatch writes exactly the bytes of abi's encoder;
// and abi.ReadBatch (what guests decode with) gives the messages back.
func FuzzBatchChunks(f *testing.F) {
	f.Add([]byte("hello"), []byte{0, 1, 2, 3})
	f.Add([]byte{0xff}, bytes.Repeat([]byte{1}, 40))
	f.Add([]byte("x"), []byte{200, 0, 255, 100, 120, 0})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		msgs := fuzzMsgs(data, sizes)
		for done := 0; done < len(msgs); {
			rest := msgs[done:]
			n, size := nextChunk(rest)
			chunk := rest[:n]
			total := 0
			for _, m := range chunk {
				total += len(m.Data)
			}
			switch {
			case n < 1 || n > abi.MaxBatchCount:
				t.Fatalf("chunk of %d messages", n)
			case size != abi.BatchSize(n, total):
				t.Fatalf("size %d, want %d", size, abi.BatchSize(n, total))
			case n > 1 && size > abi.MaxBatchBytes:
				t.Fatalf("%d messages in %d bytes", n, size)
			case n < len(rest) && n < abi.MaxBatchCount && size+abi.BatchMessageHeaderSize+len(rest[n].Data) <= abi.MaxBatchBytes:
				t.Fatalf("the chunk of %d stopped before a message that fits", n)
			}
			buf := bytes.Repeat([]byte{0xaa}, size) // stale bytes, as in a reused buffer
			putBatch(buf, chunk)
			want := abi.AppendBatchHeader(nil)
			for _, m := range chunk {
				want = abi.AppendBatchMessage(want, flags(m.Binary), m.Data)
			}
			if !bytes.Equal(buf, want) {
				t.Fatalf("putBatch differs from abi's encoding:\n%.64x\n%.64x", buf, want)
			}
			r, err := abi.ReadBatch(buf, uint32(n))
			if err != nil {
				t.Fatal(err)
			}
			for i := range chunk {
				fl, d, ok := r.Next()
				if !ok || (fl&abi.FlagBinary != 0) != chunk[i].Binary || !bytes.Equal(d, chunk[i].Data) {
					t.Fatalf("message %d does not round-trip", i)
				}
			}
			done += n
		}
	})
}
