// Package abi holds the constants and encodings of the edgews transcoder ABI,
// shared by the host (package wasmhost) and by guests (package guest-sdk and
// modules written in any language that follow wasmhost/ABI.md).
//
// It is a leaf: it imports only the standard library's errors package, so it
// builds unchanged for the host and for GOOS=wasip1 GOARCH=wasm, and a guest
// that imports it pays nothing for it. Everything here is part of the
// versioned contract: a change to a name, a value or an encoding is an ABI
// change and moves Version (see ABI.md, "Versioning"). The golden files under
// testdata/ pin the values and encodings so such a change cannot happen by
// accident.
package abi
