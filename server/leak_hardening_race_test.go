//go:build race

package server

// defaultLeakCycles is the leak check's length under the race detector,
// which slows each cycle about fivefold; see leak_test.go.
const defaultLeakCycles = 10_000
