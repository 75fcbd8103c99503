//go:build !wasip1

package sdk

import "encoding/binary"

// header is the Wasm build's header for the native test builds.
func header(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
