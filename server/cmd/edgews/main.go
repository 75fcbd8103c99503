// Command edgews runs the edgews WebSocket edge server and talks to a
// running one through its admin API. Run `edgews --help`.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "edgews:", err)
		os.Exit(1)
	}
}
