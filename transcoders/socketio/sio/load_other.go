//go:build !wasm

package sio

import "encoding/binary"

// load8 is the Wasm build's load8 for the native test builds.
func load8(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// load8s is load8 for a string.
func load8s(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s[:8])) }
