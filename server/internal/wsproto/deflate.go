package wsproto

import (
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// maxWindow is the deflate window (RFC 1951): 32 KiB.
const maxWindow = 32 << 10

// deflateTail is what a sync flush ends with; RFC 7692 strips it from every
// message and the receiver appends it back.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateTail is deflateTail plus an empty final stored block, so the
// decompressor reaches a clean io.EOF at the end of every message.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// byteSink is an io.Writer that appends to a slice.
type byteSink struct{ b []byte }

func (s *byteSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// writerPools holds flate writers by kind: levels 1..9 and custom windows
// for server_max_window_bits 8..14. Writers are large (hundreds of KiB), so
// they are shared by all sockets and borrowed for one message at a time;
// context takeover is done by priming a borrowed writer with the socket's
// window (ResetDict) rather than by keeping a writer per socket.
var writerPools [10 + 15]sync.Pool

func getWriter(level, windowBits int) *flate.Writer {
	idx := level
	if windowBits < 15 {
		idx = 10 + windowBits
	}
	if w, ok := writerPools[idx].Get().(*flate.Writer); ok {
		return w
	}
	var w *flate.Writer
	var err error
	if windowBits < 15 {
		w, err = flate.NewWriterWindow(nil, 1<<windowBits)
	} else {
		w, err = flate.NewWriter(nil, level)
	}
	if err != nil {
		panic("wsproto: flate writer: " + err.Error()) // only on a programming error: level/window validated
	}
	return w
}

func putWriter(w *flate.Writer, level, windowBits int) {
	idx := level
	if windowBits < 15 {
		idx = 10 + windowBits
	}
	w.ResetDict(nil, nil)
	writerPools[idx].Put(w)
}

// Deflater compresses outgoing messages of one connection. It is not safe
// for concurrent use (the connection's writer owns it).
type Deflater struct {
	params DeflateParams
	window []byte // the last bytes sent, for context takeover; nil without
}

// NewDeflater returns a Deflater for negotiated params.
func NewDeflater(p DeflateParams) *Deflater {
	if p.Level < 1 || p.Level > 9 {
		p.Level = 1
	}
	if p.ServerMaxWindowBits < 8 || p.ServerMaxWindowBits > 15 {
		p.ServerMaxWindowBits = 15
	}
	return &Deflater{params: p}
}

// Compress appends the compressed form of msg (with the RFC 7692 tail
// removed) to dst.
func (d *Deflater) Compress(dst, msg []byte) []byte {
	bits := d.params.ServerMaxWindowBits
	w := getWriter(d.params.Level, bits)
	sink := byteSink{b: dst}
	start := len(dst)
	if d.params.ServerNoContextTakeover {
		w.ResetDict(&sink, nil)
	} else {
		w.ResetDict(&sink, d.window)
	}
	_, _ = w.Write(msg) // byteSink never fails
	_ = w.Flush()
	putWriter(w, d.params.Level, bits)
	out := sink.b
	if n := len(out); n-start >= 4 && [4]byte(out[n-4:]) == deflateTail {
		out = out[:n-4]
	}
	if !d.params.ServerNoContextTakeover {
		d.window = slideWindow(d.window, msg, 1<<bits)
	}
	return out
}

// Release drops the context-takeover window (the socket is closing).
func (d *Deflater) Release() { d.window = nil }

// slideWindow appends b to w keeping only the last size bytes.
func slideWindow(w, b []byte, size int) []byte {
	if len(b) >= size {
		if cap(w) < size {
			w = make([]byte, size)
		}
		w = w[:size]
		copy(w, b[len(b)-size:])
		return w
	}
	if keep := size - len(b); len(w) > keep {
		copy(w, w[len(w)-keep:])
		w = w[:keep]
	}
	if cap(w) < size {
		nw := make([]byte, len(w), size)
		copy(nw, w)
		w = nw
	}
	return append(w, b...)
}

// ErrTooBig is returned by Inflate when the decompressed message exceeds
// the limit.
var ErrTooBig = errors.New("wsproto: decompressed message too big")

var readerPool sync.Pool

// sliceReader reads a compressed payload followed by inflateTail without
// copying them together; it implements io.ByteReader so flate does not wrap
// it in a bufio.Reader.
type sliceReader struct {
	a, b []byte
}

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.a) > 0 {
		n := copy(p, r.a)
		r.a = r.a[n:]
		return n, nil
	}
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	return 0, io.EOF
}

func (r *sliceReader) ReadByte() (byte, error) {
	if len(r.a) > 0 {
		c := r.a[0]
		r.a = r.a[1:]
		return c, nil
	}
	if len(r.b) > 0 {
		c := r.b[0]
		r.b = r.b[1:]
		return c, nil
	}
	return 0, io.EOF
}

// Inflater decompresses incoming messages of one connection. It is not
// safe for concurrent use (the connection's reader owns it).
type Inflater struct {
	contextTakeover bool
	window          []byte
}

// NewInflater returns an Inflater for negotiated params.
func NewInflater(p DeflateParams) *Inflater {
	return &Inflater{contextTakeover: !p.ClientNoContextTakeover}
}

// Inflate appends the decompressed form of payload to dst. It returns
// ErrTooBig once more than max bytes (max > 0) would be produced, and a
// *CloseError with 1007 for corrupt data.
func (f *Inflater) Inflate(dst, payload []byte, max int64) ([]byte, error) {
	src := sliceReader{a: payload, b: inflateTail}
	var dict []byte
	if f.contextTakeover {
		dict = f.window
	}
	fr, _ := readerPool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReaderDict(&src, dict)
	} else if err := fr.(flate.Resetter).Reset(&src, dict); err != nil {
		return dst, closeErr(CloseInvalidPayload, "corrupt compressed message")
	}
	defer readerPool.Put(fr)
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := dst[len(dst):cap(dst)]
		if max > 0 {
			// Never produce more than one byte past the limit, however
			// well the payload compresses (a compression bomb).
			if left := max + 1 - int64(len(dst)-start); int64(len(room)) > left {
				room = room[:left]
			}
		}
		n, err := fr.Read(room)
		dst = dst[:len(dst)+n]
		if max > 0 && int64(len(dst)-start) > max {
			return dst, ErrTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst, closeErr(CloseInvalidPayload, "corrupt compressed message")
		}
	}
	if f.contextTakeover {
		f.window = slideWindow(f.window, dst[start:], maxWindow)
	}
	return dst, nil
}

// Release drops the context-takeover window.
func (f *Inflater) Release() { f.window = nil }
