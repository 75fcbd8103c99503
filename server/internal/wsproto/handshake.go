package wsproto

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ValidKey reports whether a Sec-WebSocket-Key is the base64 encoding of 16
// bytes (RFC 6455 section 4.1).
func ValidKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}

// HeaderHasToken reports whether a comma-separated header value contains
// token, compared case-insensitively (e.g. Connection: keep-alive, Upgrade).
func HeaderHasToken(value, token string) bool {
	for value != "" {
		var item string
		item, value, _ = strings.Cut(value, ",")
		if strings.EqualFold(strings.TrimSpace(item), token) {
			return true
		}
	}
	return false
}

// SplitList splits a comma-separated header value into trimmed, non-empty
// items.
func SplitList(value string) []string {
	var out []string
	for value != "" {
		var item string
		item, value, _ = strings.Cut(value, ",")
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
