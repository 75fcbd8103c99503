package abi

// Batch encoding (ABI 1.1): the input of ExportInboundBatch and
// ExportOutboundBatch. Little-endian, no padding:
//
//	u32 progress            written 0 by the host; the guest stores in it
//	                        the index of each message before handling it
//	count × {
//	    u32 flags           FlagBinary or 0; bits above the low 8 are zero
//	    u32 length
//	    length bytes        the message
//	}
//
// The count travels as the export's first parameter, the total length as
// its second. A well-formed batch holds exactly count messages and nothing
// after them. The progress word is how the host gives every message of a
// batch the budget of a single call (ABI.md, "Limits and the call budget").
const (
	BatchHeaderSize        = 4 // the progress word
	BatchMessageHeaderSize = 8 // flags and length before each message

	// MaxBatchCount is the most messages the host passes in one batch
	// call; it splits longer batches over several calls.
	MaxBatchCount = 32
	// MaxBatchBytes is the most bytes of encoding the host passes in one
	// batch call, unless the batch holds a single larger message: batching
	// never makes a guest's input buffer grow beyond what the largest
	// single message or this bound needs.
	MaxBatchBytes = 64 << 10
)

// BatchSize returns the length of the encoding of count messages that hold
// dataBytes bytes together.
func BatchSize(count, dataBytes int) int {
	return BatchHeaderSize + count*BatchMessageHeaderSize + dataBytes
}

// AppendBatchHeader appends the progress word (0) that starts a batch.
func AppendBatchHeader(dst []byte) []byte { return appendU32(dst, 0) }

// AppendBatchMessage appends one message to a batch begun with
// AppendBatchHeader.
func AppendBatchMessage(dst []byte, flags uint32, data []byte) []byte {
	dst = appendU32(dst, flags)
	dst = appendU32(dst, uint32(len(data)))
	return append(dst, data...)
}

// PutBatchMessageHeader writes the header of a message of n bytes at the
// start of b, which must hold BatchMessageHeaderSize bytes. It is for an
// encoder that writes in place (the host writes into guest memory).
func PutBatchMessageHeader(b []byte, flags, n uint32) {
	_ = b[BatchMessageHeaderSize-1]
	putU32(b, flags)
	putU32(b[4:], n)
}

// BatchProgress returns the progress word of an encoded batch, or 0 if b
// is too short to hold one.
func BatchProgress(b []byte) uint32 {
	v, _, _ := readU32(b)
	return v
}

// PutBatchProgress stores i in the progress word of an encoded batch; the
// guest does so before it handles message i. It does nothing if b is too
// short to hold the word.
func PutBatchProgress(b []byte, i uint32) {
	if len(b) >= BatchHeaderSize {
		putU32(b, i)
	}
}

// BatchReader reads the messages of an encoded batch in order. Its zero
// value holds no messages.
type BatchReader struct {
	rest []byte
	left uint32
}

// ReadBatch checks that b is a well-formed batch of count messages and
// returns a reader of them. It fails with ErrMalformed if b is shorter
// than its headers say, holds fewer or more than count messages, has bytes
// after the last one, or sets flag bits above the low 8 (ABI 1.1 defines
// only FlagBinary; a later minor version may define more of the low 8,
// which a guest that does not know them ignores). The check covers the
// whole batch first, so a guest can refuse a malformed batch before
// handling any of it.
func ReadBatch(b []byte, count uint32) (BatchReader, error) {
	if len(b) < BatchHeaderSize {
		return BatchReader{}, ErrMalformed
	}
	body := b[BatchHeaderSize:]
	rest := body
	for i := uint32(0); i < count; i++ {
		if len(rest) < BatchMessageHeaderSize {
			return BatchReader{}, ErrMalformed
		}
		h := messageHeader(rest)
		if h&0xffffff00 != 0 || h>>32 > uint64(len(rest)-BatchMessageHeaderSize) {
			return BatchReader{}, ErrMalformed
		}
		rest = rest[BatchMessageHeaderSize+int(h>>32):]
	}
	if len(rest) != 0 {
		return BatchReader{}, ErrMalformed
	}
	return BatchReader{rest: body, left: count}, nil
}

// Len returns the number of messages not read yet.
func (r *BatchReader) Len() int { return int(r.left) }

// Next returns the next message's flags and data, and false when there is
// none left. data aliases the batch and has no spare capacity, so that
// appending to it never overwrites the message after it.
//
// Next is small enough for the compiler to inline, and must stay so: in a
// Go guest on Wasm a function call per message costs tens of nanoseconds,
// a good part of what batching saves.
func (r *BatchReader) Next() (flags uint32, data []byte, ok bool) {
	if r.left == 0 {
		return 0, nil, false
	}
	r.left--
	// ReadBatch checked every length and that the flags fit a byte, so
	// this stays in range.
	b := r.rest
	h := messageHeader(b)
	end := BatchMessageHeaderSize + int(h>>32)
	r.rest = b[end:]
	return uint32(h & 0xff), b[BatchMessageHeaderSize:end:end], true
}

func putU32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
