//go:build !race

package server

// defaultLeakCycles is the leak check's length (issue 7); see leak_test.go.
const defaultLeakCycles = 100_000
