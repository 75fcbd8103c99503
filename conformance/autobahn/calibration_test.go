package autobahn_test

import (
	"strings"
	"testing"

	"github.com/edgews/edgews/conformance/autobahn"
)

// The official suite gives the naive fasthttp/websocket echo server 223 OK,
// 3 INFORMATIONAL, 216 UNIMPLEMENTED and 75 FAILED over sections 1-7, 9,
// 10, 12 and 13. Section 9 (54 cases, all OK) is too slow for unit tests,
// so this checks the rest: 169 OK.
func TestCalibrationNaiveEcho(t *testing.T) {
	t.Parallel()
	url := listen(t, naiveEcho(false))
	sum, _ := run(t, url, "1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*", "12.*", "13.*")
	want := map[string]int{autobahn.OK: 169, autobahn.Informational: 3, autobahn.Unimplemented: 216, autobahn.Failed: 75}
	for v, n := range want {
		if sum.Counts[v] != n {
			t.Errorf("%s = %d, want %d", v, sum.Counts[v], n)
		}
	}
	if len(sum.Results) != 463 {
		t.Errorf("%d cases, want 463", len(sum.Results))
	}
	checkFailed(t, sum, autobahn.InvalidUTF8Cases())
	for _, r := range sum.Results {
		unimpl := strings.HasPrefix(r.ID, "12.") || strings.HasPrefix(r.ID, "13.")
		if unimpl != (r.Behavior == autobahn.Unimplemented) {
			t.Errorf("case %s: %s", r.ID, r.Behavior)
		}
	}
	t.Log(sum)
}

// With compression enabled, fasthttp/websocket negotiates permessage-deflate
// without context takeover; the compression cases then pass.
func TestCalibrationCompressingEcho(t *testing.T) {
	t.Parallel()
	url := listen(t, naiveEcho(true))
	sum, _ := run(t, url, "12.1.1", "12.3.2", "12.5.1", "13.2.1", "13.4.2", "13.6.1", "13.7.2")
	checkFailed(t, sum, nil)
	if sum.Counts[autobahn.OK] != len(sum.Results) {
		t.Errorf("not all OK: %s", sum)
	}
}
