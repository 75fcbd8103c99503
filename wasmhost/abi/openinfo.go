package abi

import "errors"

// ErrMalformed reports an encoding that does not follow ABI.md.
var ErrMalformed = errors.New("abi: malformed encoding")

// OpenInfo is what ExportOpen receives: the socket that was opened.
//
// Encoding (little-endian): u32 field count, then per field u32 length and
// that many bytes. Fields in this order: SocketID, Path, Query, User,
// Context, RemoteAddr. A decoder ignores fields beyond the ones it knows (a
// later minor version may append some) and treats missing trailing fields as
// empty. The host never passes the session id, and removes the "session"
// parameter from Query: it is a bearer credential the guest has no use for.
type OpenInfo struct {
	SocketID   string
	Path       string
	Query      string // raw query string, without the leading '?'
	User       string
	Context    string
	RemoteAddr string
}

const openInfoFields = 6

// AppendOpenInfo appends the encoding of info to dst.
func AppendOpenInfo(dst []byte, info OpenInfo) []byte {
	dst = appendU32(dst, openInfoFields)
	for _, s := range [openInfoFields]string{info.SocketID, info.Path, info.Query, info.User, info.Context, info.RemoteAddr} {
		dst = appendU32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// DecodeOpenInfo decodes an encoded OpenInfo. It fails with ErrMalformed
// when a length runs past the end of b.
func DecodeOpenInfo(b []byte) (OpenInfo, error) {
	var info OpenInfo
	n, b, ok := readU32(b)
	if !ok {
		return info, ErrMalformed
	}
	fields := [openInfoFields]*string{&info.SocketID, &info.Path, &info.Query, &info.User, &info.Context, &info.RemoteAddr}
	for i := uint32(0); i < n; i++ {
		var l uint32
		l, b, ok = readU32(b)
		if !ok || uint64(l) > uint64(len(b)) {
			return OpenInfo{}, ErrMalformed
		}
		if i < openInfoFields {
			*fields[i] = string(b[:l])
		}
		b = b[l:]
	}
	if len(b) != 0 {
		return OpenInfo{}, ErrMalformed
	}
	return info, nil
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func readU32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, b, false
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, b[4:], true
}
