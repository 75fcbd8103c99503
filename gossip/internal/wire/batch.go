package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned by the decoders. Each decoder wraps exactly one of them.
var (
	ErrMagic     = errors.New("gossip/wire: bad magic or version")
	ErrTruncated = errors.New("gossip/wire: truncated input")
	ErrLimit     = errors.New("gossip/wire: limit exceeded")
	ErrMalformed = errors.New("gossip/wire: malformed input")
)

var batchMagic = [4]byte{'E', 'W', 'B', 1}

// flagBinary marks a binary (as opposed to text) message.
const flagBinary = 1

// Msg is one message inside a batch.
type Msg struct {
	Context string
	User    string
	Path    string
	Binary  bool
	Data    []byte
}

// Batch is a decoded batch body.
type Batch struct {
	Stream   uint64
	Seq      uint64
	DestBoot uint64
	Msgs     []Msg
}

// Limits bound what a decoder accepts.
type Limits struct {
	MaxMessages int // messages per batch
	MaxField    int // bytes per context, user or path
	MaxData     int // bytes per message payload
}

// BatchHeaderSize is an upper bound of the fixed part of a batch body.
const BatchHeaderSize = 4 + 8 + binary.MaxVarintLen64 + 8 + binary.MaxVarintLen64

// MsgSize returns the number of bytes m takes in a batch body.
func MsgSize(m *Msg) int {
	return 1 + lpSize(len(m.Context)) + lpSize(len(m.User)) + lpSize(len(m.Path)) + lpSize(len(m.Data))
}

func lpSize(n int) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], uint64(n)) + n
}

// AppendBatch appends the encoding of a batch header followed by msgs to dst.
func AppendBatch(dst []byte, stream, seq, destBoot uint64, msgs []Msg) []byte {
	dst = append(dst, batchMagic[:]...)
	dst = binary.BigEndian.AppendUint64(dst, stream)
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.BigEndian.AppendUint64(dst, destBoot)
	dst = binary.AppendUvarint(dst, uint64(len(msgs)))
	for i := range msgs {
		m := &msgs[i]
		var flags byte
		if m.Binary {
			flags |= flagBinary
		}
		dst = append(dst, flags)
		dst = appendString(dst, m.Context)
		dst = appendString(dst, m.User)
		dst = appendString(dst, m.Path)
		dst = binary.AppendUvarint(dst, uint64(len(m.Data)))
		dst = append(dst, m.Data...)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// DecodeBatch decodes a batch body. Message payloads are sub-slices of b (no
// copy); the caller must not modify b while they are in use.
func DecodeBatch(b []byte, lim Limits) (Batch, error) {
	var out Batch
	r := reader{b: b}
	if !r.magic(batchMagic) {
		return out, ErrMagic
	}
	var ok bool
	if out.Stream, ok = r.u64(); !ok {
		return out, ErrTruncated
	}
	var err error
	if out.Seq, err = r.uvarint(); err != nil {
		return out, err
	}
	if out.Seq == 0 {
		return out, fmt.Errorf("%w: sequence number 0", ErrMalformed)
	}
	if out.DestBoot, ok = r.u64(); !ok {
		return out, ErrTruncated
	}
	count, err := r.uvarint()
	if err != nil {
		return out, err
	}
	if count == 0 {
		return out, fmt.Errorf("%w: empty batch", ErrMalformed)
	}
	if count > uint64(lim.MaxMessages) {
		return out, fmt.Errorf("%w: %d messages (max %d)", ErrLimit, count, lim.MaxMessages)
	}
	// Every message takes at least 5 bytes, which bounds the allocation by
	// the input size as well as by the limit.
	if count > uint64(r.left()/5) {
		return out, ErrTruncated
	}
	out.Msgs = make([]Msg, count)
	for i := range out.Msgs {
		m := &out.Msgs[i]
		flags, ok := r.byte()
		if !ok {
			return out, ErrTruncated
		}
		if flags&^flagBinary != 0 {
			return out, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
		}
		m.Binary = flags&flagBinary != 0
		if m.Context, err = r.str(lim.MaxField); err != nil {
			return out, err
		}
		if m.User, err = r.str(lim.MaxField); err != nil {
			return out, err
		}
		if m.Path, err = r.str(lim.MaxField); err != nil {
			return out, err
		}
		if m.Data, err = r.bytes(lim.MaxData); err != nil {
			return out, err
		}
	}
	if r.left() != 0 {
		return out, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.left())
	}
	return out, nil
}

// reader is a bounds-checked cursor over a byte slice.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) magic(m [4]byte) bool {
	if r.left() < 4 || [4]byte(r.b[r.off:r.off+4]) != m {
		return false
	}
	r.off += 4
	return true
}

func (r *reader) byte() (byte, bool) {
	if r.left() < 1 {
		return 0, false
	}
	c := r.b[r.off]
	r.off++
	return c, true
}

func (r *reader) u64() (uint64, bool) {
	if r.left() < 8 {
		return 0, false
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, true
}

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		return 0, ErrTruncated
	case n < 0:
		return 0, fmt.Errorf("%w: varint overflow", ErrMalformed)
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(limit int) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: field of %d bytes (max %d)", ErrLimit, n, limit)
	}
	if n > uint64(r.left()) {
		return nil, ErrTruncated
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

func (r *reader) str(limit int) (string, error) {
	b, err := r.bytes(limit)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
