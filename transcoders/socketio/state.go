package main

import (
	"bytes"
	"strings"

	guest "github.com/edgews/edgews/guest-sdk"
)

// stateKey is the socket attribute that holds the transcoder's per-socket
// state: the protocol version, the Engine.IO sid and the connected
// namespaces, one per line. Instances keep nothing between calls.
const stateKey = "socketio"

// maxNamespaces and maxNamespaceLen bound the state a client can make a
// socket hold: 64 × 256 bytes stay well inside the host's 64 KiB per
// attribute value.
const (
	maxNamespaces   = 64
	maxNamespaceLen = 256
)

// state is the attribute's value, parsed in place: "4\nsid\n/\n/admin".
type state struct {
	version byte // '3' or '4'
	sid     []byte
	raw     []byte // namespaces, each followed by '\n'
}

// stateBuf is reused for every load within an instance; a loaded state
// points into it and is valid for the call.
var stateBuf []byte

func loadState() (state, bool) {
	v, ok := guest.AppendAttr(stateBuf[:0], stateKey)
	stateBuf = v
	if !ok || len(v) < 2 || (v[0] != '3' && v[0] != '4') || v[1] != '\n' {
		return state{}, false
	}
	rest := v[2:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return state{version: v[0], sid: rest}, true
	}
	return state{version: v[0], sid: rest[:i], raw: rest[i+1:]}, true
}

func (s state) save() error {
	b := make([]byte, 0, 2+len(s.sid)+1+len(s.raw))
	b = append(b, s.version, '\n')
	b = append(b, s.sid...)
	b = append(b, '\n')
	b = append(b, s.raw...)
	return guest.SetAttr(stateKey, b)
}

func (s state) count() int { return bytes.Count(s.raw, []byte{'\n'}) }

func (s state) connected(ns string) bool {
	r := s.raw
	for len(r) > 0 {
		i := bytes.IndexByte(r, '\n')
		if i < 0 {
			return string(r) == ns
		}
		if string(r[:i]) == ns {
			return true
		}
		r = r[i+1:]
	}
	return false
}

// add records ns as connected, or returns why it cannot: once
// maxNamespaces are, or for a name over maxNamespaceLen bytes or with a
// newline (the state's separator).
func (s *state) add(ns string) string {
	switch {
	case s.count() >= maxNamespaces:
		return "too many namespaces"
	case len(ns) > maxNamespaceLen || strings.IndexByte(ns, '\n') >= 0:
		return "invalid namespace"
	}
	raw := make([]byte, 0, len(s.raw)+len(ns)+1)
	raw = append(append(append(raw, s.raw...), ns...), '\n')
	s.raw = raw
	return ""
}

func (s *state) remove(ns string) bool {
	r := s.raw
	for off := 0; off < len(r); {
		i := bytes.IndexByte(r[off:], '\n')
		if i < 0 {
			return false
		}
		if string(r[off:off+i]) == ns {
			raw := make([]byte, 0, len(r)-i-1)
			raw = append(append(raw, r[:off]...), r[off+i+1:]...)
			s.raw = raw
			return true
		}
		off += i + 1
	}
	return false
}
