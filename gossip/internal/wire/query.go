package wire

import (
	"encoding/binary"
	"fmt"
)

var (
	queryMagic = [4]byte{'E', 'W', 'Q', 1}
	replyMagic = [4]byte{'E', 'W', 'R', 1}
)

// Exists queries travel inside serf's gossip packets, which are bounded by
// memberlist's UDP buffer (1400 bytes, including serf's own framing and the
// encryption overhead). MaxQueryField bounds each of context, user and path
// (a path filter may be up to 1 KiB); MaxQueryPayload bounds the encoded
// query as a whole so that it always fits into one packet.
const (
	MaxQueryField   = 1024
	MaxQueryPayload = 1100
)

// Status is the outcome an exists reply reports.
type Status byte

// Reply statuses.
const (
	StatusOK         Status = 0
	StatusError      Status = 1
	StatusOverloaded Status = 2
)

// ExistsQuery is the payload of an exists query.
type ExistsQuery struct {
	Context string
	User    string
	Path    string
}

// AppendExistsQuery appends the encoding of q to dst. It fails with ErrLimit
// if a field is longer than MaxQueryField.
func AppendExistsQuery(dst []byte, q ExistsQuery) ([]byte, error) {
	for _, f := range [...]string{q.Context, q.User, q.Path} {
		if len(f) > MaxQueryField {
			return dst, fmt.Errorf("%w: query field of %d bytes (max %d)", ErrLimit, len(f), MaxQueryField)
		}
	}
	start := len(dst)
	dst = append(dst, queryMagic[:]...)
	dst = appendString(dst, q.Context)
	dst = appendString(dst, q.User)
	dst = appendString(dst, q.Path)
	if n := len(dst) - start; n > MaxQueryPayload {
		return dst[:start], fmt.Errorf("%w: query of %d bytes (max %d)", ErrLimit, n, MaxQueryPayload)
	}
	return dst, nil
}

// DecodeExistsQuery decodes an exists query payload.
func DecodeExistsQuery(b []byte) (ExistsQuery, error) {
	var q ExistsQuery
	r := reader{b: b}
	if !r.magic(queryMagic) {
		return q, ErrMagic
	}
	var err error
	if q.Context, err = r.str(MaxQueryField); err != nil {
		return q, err
	}
	if q.User, err = r.str(MaxQueryField); err != nil {
		return q, err
	}
	if q.Path, err = r.str(MaxQueryField); err != nil {
		return q, err
	}
	if r.left() != 0 {
		return q, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.left())
	}
	if len(b) > MaxQueryPayload {
		return q, fmt.Errorf("%w: query of %d bytes (max %d)", ErrLimit, len(b), MaxQueryPayload)
	}
	return q, nil
}

// ExistsReply is a member's answer to an exists query.
type ExistsReply struct {
	Status Status
	Count  uint64
}

// AppendExistsReply appends the encoding of r to dst.
func AppendExistsReply(dst []byte, r ExistsReply) []byte {
	dst = append(dst, replyMagic[:]...)
	dst = append(dst, byte(r.Status))
	return binary.AppendUvarint(dst, r.Count)
}

// DecodeExistsReply decodes an exists reply.
func DecodeExistsReply(b []byte) (ExistsReply, error) {
	var out ExistsReply
	r := reader{b: b}
	if !r.magic(replyMagic) {
		return out, ErrMagic
	}
	st, ok := r.byte()
	if !ok {
		return out, ErrTruncated
	}
	if st > byte(StatusOverloaded) {
		return out, fmt.Errorf("%w: unknown status %d", ErrMalformed, st)
	}
	out.Status = Status(st)
	var err error
	if out.Count, err = r.uvarint(); err != nil {
		return out, err
	}
	if r.left() != 0 {
		return out, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.left())
	}
	return out, nil
}
