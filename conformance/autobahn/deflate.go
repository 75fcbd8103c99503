package autobahn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	stdflate "compress/flate"

	"github.com/klauspost/compress/flate"
)

// deflateOffer is one permessage-deflate offer the client sends (RFC 7692).
// The zero value is not the default offer; use defaultOffer.
type deflateOffer struct {
	acceptNoContextTakeover  bool // client_no_context_takeover
	acceptMaxWindowBits      bool // client_max_window_bits (no value)
	requestNoContextTakeover bool // server_no_context_takeover
	requestMaxWindowBits     int  // server_max_window_bits=N, 0 for none
}

// defaultOffer is the offer the official client makes when a case asks for
// "the default permessage-deflate offer".
func defaultOffer() deflateOffer {
	return deflateOffer{acceptNoContextTakeover: true, acceptMaxWindowBits: true}
}

func (o deflateOffer) String() string {
	var b strings.Builder
	b.WriteString("permessage-deflate")
	if o.acceptNoContextTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if o.acceptMaxWindowBits {
		b.WriteString("; client_max_window_bits")
	}
	if o.requestNoContextTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if o.requestMaxWindowBits != 0 {
		fmt.Fprintf(&b, "; server_max_window_bits=%d", o.requestMaxWindowBits)
	}
	return b.String()
}

// extension is one element of a Sec-WebSocket-Extensions header: a lower-cased
// name and its parameters. A parameter without "=" has the value "" and
// flag set.
type extension struct {
	name   string
	params []extParam
}

type extParam struct {
	key   string
	value string
	flag  bool // parameter given without a value
}

// parseExtensions splits a Sec-WebSocket-Extensions value the way the official
// client does: comma separated extensions, semicolon separated parameters,
// lower-cased names and keys, surrounding double quotes removed from values.
func parseExtensions(header string) []extension {
	var out []extension
	for _, e := range strings.Split(header, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		parts := strings.Split(e, ";")
		ext := extension{name: strings.ToLower(strings.TrimSpace(parts[0]))}
		for _, p := range parts[1:] {
			kv := strings.Split(p, "=")
			for i := range kv {
				kv[i] = strings.TrimSpace(kv[i])
			}
			param := extParam{key: strings.ToLower(kv[0])}
			if len(kv) > 1 {
				v := strings.Join(kv[1:], "=")
				v = strings.TrimPrefix(v, `"`)
				v = strings.TrimSuffix(v, `"`)
				param.value = v
			} else {
				param.flag = true
			}
			ext.params = append(ext.params, param)
		}
		out = append(out, ext)
	}
	return out
}

// deflateResponse is the server's answer to our offers.
type deflateResponse struct {
	clientMaxWindowBits     int
	clientNoContextTakeover bool
	serverMaxWindowBits     int
	serverNoContextTakeover bool
}

var errBadDeflateParam = errors.New("autobahn: bad permessage-deflate parameter")

// parseDeflateResponse validates the parameters of a permessage-deflate
// response with the official client's rules: window bits need a value in
// 8..15, the no-context-takeover flags take no value, no parameter may repeat
// and unknown parameters are refused.
func parseDeflateResponse(params []extParam) (deflateResponse, error) {
	var r deflateResponse
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.key] {
			return r, fmt.Errorf("%w: %q given more than once", errBadDeflateParam, p.key)
		}
		seen[p.key] = true
		switch p.key {
		case "client_max_window_bits", "server_max_window_bits":
			bits, err := windowBits(p)
			if err != nil {
				return r, err
			}
			if p.key == "client_max_window_bits" {
				r.clientMaxWindowBits = bits
			} else {
				r.serverMaxWindowBits = bits
			}
		case "client_no_context_takeover", "server_no_context_takeover":
			if !p.flag {
				return r, fmt.Errorf("%w: %q takes no value", errBadDeflateParam, p.key)
			}
			if p.key == "client_no_context_takeover" {
				r.clientNoContextTakeover = true
			} else {
				r.serverNoContextTakeover = true
			}
		default:
			return r, fmt.Errorf("%w: unknown parameter %q", errBadDeflateParam, p.key)
		}
	}
	return r, nil
}

func windowBits(p extParam) (int, error) {
	if p.flag {
		// The official client converts a missing value to 1, which is out
		// of range, so a bare window-bits parameter in a response fails.
		return 0, fmt.Errorf("%w: %q needs a value", errBadDeflateParam, p.key)
	}
	n, err := strconv.Atoi(p.value)
	if err != nil || n < 8 || n > 15 {
		return 0, fmt.Errorf("%w: %q=%q", errBadDeflateParam, p.key, p.value)
	}
	return n, nil
}

// deflateCodec compresses what the client sends and decompresses what the
// server sends, as negotiated.
type deflateCodec struct {
	resp deflateResponse

	// client to server
	clientWindow int // bytes
	comp         *flate.Writer
	compBuf      bytes.Buffer

	// server to client
	history  []byte // last 32 KiB of decompressed output, for context takeover
	inflater io.ReadCloser
}

const maxWindow = 1 << 15

func newDeflateCodec(resp deflateResponse) *deflateCodec {
	bits := resp.clientMaxWindowBits
	if bits == 0 {
		bits = 15
	}
	return &deflateCodec{resp: resp, clientWindow: 1 << bits}
}

func (c *deflateCodec) json() map[string]any {
	return map[string]any{
		"extension":                  "permessage-deflate",
		"client_max_window_bits":     c.resp.clientMaxWindowBits,
		"client_no_context_takeover": c.resp.clientNoContextTakeover,
		"server_max_window_bits":     c.resp.serverMaxWindowBits,
		"server_no_context_takeover": c.resp.serverNoContextTakeover,
	}
}

// compress returns the payload of one compressed message: the raw deflate
// data up to and including a sync flush, without its final 00 00 ff ff. The
// compression window carries over between messages unless the server asked
// for client_no_context_takeover.
func (c *deflateCodec) compress(msg []byte) ([]byte, error) {
	c.compBuf.Reset()
	if c.comp == nil || c.resp.clientNoContextTakeover {
		var err error
		if c.comp == nil {
			c.comp, err = newCompressor(&c.compBuf, c.clientWindow)
		} else {
			c.comp.Reset(&c.compBuf)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := c.comp.Write(msg); err != nil {
		return nil, err
	}
	if err := c.comp.Flush(); err != nil {
		return nil, err
	}
	out := c.compBuf.Bytes()
	if len(out) >= 4 {
		out = out[:len(out)-4]
	}
	return bytes.Clone(out), nil
}

func newCompressor(w io.Writer, window int) (*flate.Writer, error) {
	if window >= maxWindow {
		return flate.NewWriter(w, 6) // zlib's default level, like the official client
	}
	return flate.NewWriterWindow(w, window)
}

// deflateTail ends a message's deflate data: the 00 00 ff ff the sender
// stripped, then an empty final stored block so the reader sees a clean end.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var errInflate = errors.New("autobahn: invalid compressed message")

// decompress inflates the payload of one compressed message from the server.
func (c *deflateCodec) decompress(payload []byte) ([]byte, error) {
	var dict []byte
	if !c.resp.serverNoContextTakeover {
		dict = c.history
	}
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader(deflateTail))
	if c.inflater == nil {
		c.inflater = stdflate.NewReaderDict(src, dict)
	} else if err := c.inflater.(stdflate.Resetter).Reset(src, dict); err != nil {
		return nil, fmt.Errorf("%w: %v", errInflate, err)
	}
	out, err := io.ReadAll(c.inflater)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInflate, err)
	}
	if !c.resp.serverNoContextTakeover {
		c.history = append(c.history, out...)
		if len(c.history) > maxWindow {
			c.history = append(c.history[:0:0], c.history[len(c.history)-maxWindow:]...)
		}
	}
	return out, nil
}
