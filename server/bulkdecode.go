package server

import "unicode/utf8"

// decodeBulkFast decodes the usual shape of a bulk send body without
// reflection: a JSON array of objects whose keys are exactly the lower-case
// field names of SendRequest, with plain string values (no escapes, no
// control characters, valid UTF-8) and a true/false "local". It reports
// ok=false for anything else, and the caller decodes the body with
// encoding/json as before, which also words the errors. So the fast path
// only has to be right about what it accepts: FuzzBulkDecodeFast holds it
// to encoding/json's result for every body it accepts.
//
// encoding/json spent about a fifth of the server's CPU in a fan-out
// benchmark (19,000 users per bulk call).
func decodeBulkFast(b []byte) (reqs []SendRequest, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipWS(b, i+1)
	reqs = []SendRequest{}
	if i < len(b) && b[i] == ']' {
		return reqs, skipWS(b, i+1) == len(b)
	}
	for {
		var r SendRequest
		if i, ok = decodeSendObject(b, i, &r); !ok {
			return nil, false
		}
		reqs = append(reqs, r)
		i = skipWS(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return reqs, skipWS(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// decodeSendLineFast is decodeBulkFast for one NDJSON line: a single
// object and nothing after it but whitespace.
func decodeSendLineFast(b []byte) (r SendRequest, ok bool) {
	end, ok := decodeSendObject(b, skipWS(b, 0), &r)
	if !ok || skipWS(b, end) != len(b) {
		return SendRequest{}, false
	}
	return r, true
}

// decodeSendObject decodes one object starting at b[i] into r and returns
// the index after its closing brace.
func decodeSendObject(b []byte, i int, r *SendRequest) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return i, false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		i = skipWS(b, i+1)
		if key == "local" {
			switch {
			case hasLiteral(b, i, "true"):
				r.Local, i = true, i+4
			case hasLiteral(b, i, "false"):
				r.Local, i = false, i+5
			default:
				return i, false
			}
		} else {
			v, j, ok := plainString(b, i)
			if !ok {
				return i, false
			}
			switch key {
			case "context":
				r.Context = v
			case "user":
				r.User = v
			case "path":
				r.Path = v
			case "message":
				r.Message = &v
			case "message_base64":
				r.MessageBase64 = &v
			default:
				return i, false // unknown, or not in this exact spelling
			}
			i = j
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// plainString reads a JSON string at b[i] that encoding/json would decode
// to exactly its bytes: no backslash, no control character, valid UTF-8.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[start:j]
			if !ascii && !utf8.Valid(s) {
				return "", i, false
			}
			return string(s), j + 1, true
		case c == '\\' || c < 0x20:
			return "", i, false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", i, false
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
