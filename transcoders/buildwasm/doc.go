// Package buildwasm builds Go transcoder packages into .wasm files with the
// standard toolchain and the fixed flags that make the output reproducible:
// the same sources and Go version give the same bytes, which is how CI
// checks that the committed modules in transcoders/builtin are in step with
// their sources.
//
// The command is, for package ./transcoders/identity:
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false -buildmode=c-shared -o identity.wasm ./transcoders/identity
package buildwasm
