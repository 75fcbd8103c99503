// Command edgews runs the edgews WebSocket edge server and talks to a
// running one through its admin API. Run `edgews --help`.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "edgews:", err)
		os.Exit(1)
	}
}
