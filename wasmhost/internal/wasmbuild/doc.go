// Package wasmbuild assembles small WebAssembly binaries from Go, for tests
// that need a module with exact properties (a wrong ABI version, a loop
// without a Go runtime, a pointer chosen byte by byte) that no compiler
// would produce on request. Function bodies are given as raw instruction
// bytes; the package only frames them into sections.
package wasmbuild
