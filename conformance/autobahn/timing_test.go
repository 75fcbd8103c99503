package autobahn_test

import (
	"context"
	"os"
	"testing"

	"github.com/edgews/edgews/conformance/autobahn"
)

// TestTiming measures full runs, for the figures in README.md. It takes
// many minutes, so it runs only when asked:
//
//	WSCONFORM_TIMING=1 go test ./conformance/autobahn -run TestTiming -v -timeout 2h
func TestTiming(t *testing.T) {
	if os.Getenv("WSCONFORM_TIMING") == "" {
		t.Skip("set WSCONFORM_TIMING=1 to measure full runs")
	}
	good := rawServer{deflate: true}.start(t)
	ci := []string{"1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*", "12.*", "13.*"}
	for _, p := range []int{1, 4} {
		sum, err := autobahn.Run(context.Background(), autobahn.Options{URL: good, Cases: ci, Parallel: p})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("good server, sections 1-7,10,12,13, parallel %d: %s", p, sum)
		if len(sum.Failed()) > 0 {
			t.Errorf("good server failed cases")
		}
	}
	sum, err := autobahn.Run(context.Background(), autobahn.Options{URL: good, Cases: []string{"9.*"}, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("good server, section 9, parallel 1: %s", sum)
	for _, r := range sum.Results {
		t.Logf("  %s %s %v", r.ID, r.Behavior, r.Duration)
	}

	naive := listen(t, naiveEcho(false))
	all := append(ci, "9.*")
	sum, err = autobahn.Run(context.Background(), autobahn.Options{URL: naive, Cases: all, Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("naive fasthttp/websocket echo, sections 1-7,9,10,12,13, parallel 4: %s", sum)
	want := map[string]int{autobahn.OK: 223, autobahn.Informational: 3, autobahn.Unimplemented: 216, autobahn.Failed: 75}
	for v, n := range want {
		if sum.Counts[v] != n {
			t.Errorf("%s = %d, want %d", v, sum.Counts[v], n)
		}
	}
}
