//go:build !wasm

package abi

import "encoding/binary"

// messageHeader is the Wasm build's messageHeader; the native compilers
// merge these byte loads into one.
func messageHeader(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
