package wsproto

import (
	"strconv"
	"strings"
)

// ExtensionOffer is one extension from a Sec-WebSocket-Extensions header.
type ExtensionOffer struct {
	Name   string
	Params []ExtensionParam
}

// ExtensionParam is one parameter of an offer; HasValue distinguishes
// "name" from `name=""`.
type ExtensionParam struct {
	Name     string
	Value    string
	HasValue bool
}

// ParseExtensions parses Sec-WebSocket-Extensions header values (RFC 6455
// section 9.1 grammar, with quoted-string values). It returns ok=false when a
// value is malformed; offers parsed before the malformed one are not returned,
// because a server must not guess at a garbled header.
func ParseExtensions(values []string) (offers []ExtensionOffer, ok bool) {
	for _, v := range values {
		s := v
		for {
			s = skipSpace(s)
			if s == "" {
				break
			}
			if s[0] == ',' { // empty list element
				s = s[1:]
				continue
			}
			var name string
			name, s = token(s)
			if name == "" {
				return nil, false
			}
			off := ExtensionOffer{Name: strings.ToLower(name)}
			for {
				s = skipSpace(s)
				if s == "" || s[0] == ',' {
					break
				}
				if s[0] != ';' {
					return nil, false
				}
				s = skipSpace(s[1:])
				var pn string
				pn, s = token(s)
				if pn == "" {
					return nil, false
				}
				p := ExtensionParam{Name: strings.ToLower(pn)}
				s = skipSpace(s)
				if s != "" && s[0] == '=' {
					s = skipSpace(s[1:])
					p.HasValue = true
					if s != "" && s[0] == '"' {
						var val string
						val, s, ok = quoted(s)
						if !ok {
							return nil, false
						}
						p.Value = val
					} else {
						p.Value, s = token(s)
						if p.Value == "" {
							return nil, false
						}
					}
				}
				off.Params = append(off.Params, p)
			}
			offers = append(offers, off)
		}
	}
	return offers, true
}

func skipSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// token reads an RFC 7230 token.
func token(s string) (string, string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

func quoted(s string) (val, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			i++
			if i >= len(s) {
				return "", "", false
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// DeflatePolicy is what a route allows for permessage-deflate.
type DeflatePolicy struct {
	// ServerContextTakeover lets edgews keep its compression context between
	// messages when the client does not forbid it. Costs a 32 KiB window per
	// socket and CPU to prime it for every message.
	ServerContextTakeover bool
	// ClientContextTakeover lets the client keep its context between
	// messages; when false edgews answers client_no_context_takeover and
	// keeps no inflate window per socket.
	ClientContextTakeover bool
	// Level is the compression level, 1 (fastest) to 9.
	Level int
}

// DeflateParams are the negotiated parameters of one connection.
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int // 8..15: the most edgews's compressor may use
	Level                   int
}

// NegotiateDeflate picks the first acceptable permessage-deflate offer
// (RFC 7692 section 5 and 7.1) and returns the parameters and the response
// header value. ok is false when no offer is acceptable; the connection then
// proceeds without compression.
func NegotiateDeflate(offers []ExtensionOffer, pol DeflatePolicy) (DeflateParams, string, bool) {
	for _, off := range offers {
		if off.Name != "permessage-deflate" {
			continue
		}
		p := DeflateParams{ServerMaxWindowBits: 15, Level: pol.Level}
		var seen [4]bool
		serverBits := false
		valid := true
		for _, prm := range off.Params {
			var idx int
			switch prm.Name {
			case "server_no_context_takeover":
				idx = 0
				valid = !prm.HasValue
				p.ServerNoContextTakeover = true
			case "client_no_context_takeover":
				idx = 1
				valid = !prm.HasValue
				p.ClientNoContextTakeover = true
			case "server_max_window_bits":
				idx = 2
				bits, err := strconv.Atoi(prm.Value)
				valid = prm.HasValue && err == nil && bits >= 8 && bits <= 15 && prm.Value[0] != '0' && prm.Value[0] != '+'
				p.ServerMaxWindowBits, serverBits = bits, true
			case "client_max_window_bits":
				idx = 3
				if prm.HasValue {
					bits, err := strconv.Atoi(prm.Value)
					valid = err == nil && bits >= 8 && bits <= 15 && prm.Value[0] != '0' && prm.Value[0] != '+'
				}
			default:
				valid = false
			}
			if !valid || seen[idx] {
				valid = false
				break
			}
			seen[idx] = true
		}
		if !valid {
			continue
		}
		if !pol.ServerContextTakeover {
			p.ServerNoContextTakeover = true
		}
		if !pol.ClientContextTakeover {
			p.ClientNoContextTakeover = true
		}
		if p.Level < 1 || p.Level > 9 {
			p.Level = 1
		}
		resp := "permessage-deflate"
		if p.ServerNoContextTakeover {
			resp += "; server_no_context_takeover"
		}
		if p.ClientNoContextTakeover {
			resp += "; client_no_context_takeover"
		}
		if serverBits {
			resp += "; server_max_window_bits=" + strconv.Itoa(p.ServerMaxWindowBits)
		}
		return p, resp, true
	}
	return DeflateParams{}, "", false
}
