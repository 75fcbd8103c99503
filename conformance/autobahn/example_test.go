package autobahn_test

import (
	"context"
	"fmt"
	"net"

	"github.com/edgews/edgews/conformance/autobahn"
	"github.com/valyala/fasthttp"
)

// Run a few cases against an echo server that does not check UTF-8: the
// framing cases pass, the invalid-UTF-8 case fails.
func ExampleRun() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &fasthttp.Server{Handler: naiveEcho(false)}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()

	sum, err := autobahn.Run(context.Background(), autobahn.Options{
		URL:      "ws://" + ln.Addr().String() + "/echo",
		Cases:    []string{"1.1.*", "6.3.1"},
		Parallel: 4,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("OK:", sum.Counts[autobahn.OK])
	fmt.Println("FAILED:", sum.Failed())
	// Output:
	// OK: 8
	// FAILED: [6.3.1]
}

func ExampleCaseIDs() {
	ids, err := autobahn.CaseIDs([]string{"6.4.*", "7.13.*"}, []string{"6.4.4"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ids)
	// Output: [6.4.1 6.4.2 6.4.3 7.13.1 7.13.2]
}
