package wasmhost

import "runtime"

// compilerSupported mirrors wazero's rule for using its optimizing compiler.
func compilerSupported() bool {
	switch runtime.GOARCH {
	case "amd64", "arm64":
		switch runtime.GOOS {
		case "linux", "darwin", "freebsd", "netbsd", "windows":
			return true
		}
	}
	return false
}
