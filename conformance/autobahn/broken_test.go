package autobahn_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgews/edgews/conformance/autobahn"
)

// run plays the selected cases against url and returns the results by id.
func run(t *testing.T, url string, cases ...string) (*autobahn.Summary, map[string]autobahn.Result) {
	t.Helper()
	sum, err := autobahn.Run(context.Background(), autobahn.Options{URL: url, Cases: cases, Parallel: 8})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]autobahn.Result{}
	for _, r := range sum.Results {
		byID[r.ID] = r
	}
	return sum, byID
}

// checkFailed asserts that exactly the cases in want are FAILED.
func checkFailed(t *testing.T, sum *autobahn.Summary, want []string) {
	t.Helper()
	got := sum.Failed()
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		for _, r := range sum.Results {
			if r.Behavior == autobahn.Failed != slices.Contains(want, r.ID) {
				t.Errorf("case %s: %s / %s: %s | %s", r.ID, r.Behavior, r.BehaviorClose, r.Result, r.ResultClose)
			}
		}
		t.Fatalf("FAILED cases:\n got %v\nwant %v", got, want)
	}
}

func ids(prefix string, nums ...string) []string {
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = prefix + n
	}
	return out
}

func TestBrokenServerIgnoresReservedBits(t *testing.T) {
	t.Parallel()
	url := rawServer{ignoreRSV: true}.start(t)
	sum, byID := run(t, url, "3.*", "1.1.2")
	// 3.7 is a close frame with RSV = 7: a server that ignores the bits
	// answers it like any close, so only its close code is wrong.
	checkFailed(t, sum, ids("3.", "1", "2", "3", "4", "5", "6"))
	if got := byID["3.7"].BehaviorClose; got != autobahn.WrongCode {
		t.Errorf("3.7 close behaviour = %s, want %s", got, autobahn.WrongCode)
	}
}

func TestBrokenServerWrongCloseCode(t *testing.T) {
	t.Parallel()
	url := rawServer{closeReply: 3001}.start(t)
	sum, byID := run(t, url, "7.*")
	want := append(ids("7.1.", "1", "2", "3", "4", "5"), ids("7.3.", "1", "3", "4", "5")...)
	want = append(want, ids("7.7.", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13")...)
	checkFailed(t, sum, want)
	for _, id := range want {
		if got := byID[id].BehaviorClose; got != autobahn.WrongCode {
			t.Errorf("%s close behaviour = %s, want %s", id, got, autobahn.WrongCode)
		}
	}
}

func TestBrokenServerNeverAnswersPings(t *testing.T) {
	t.Parallel()
	url := rawServer{noPong: true}.start(t)
	sum, _ := run(t, url, "2.*", "5.6", "5.19")
	checkFailed(t, sum, append(ids("2.", "1", "2", "3", "4", "6", "9", "10", "11"), "5.6", "5.19"))
}

func TestBrokenServerEchoesInvalidUTF8(t *testing.T) {
	t.Parallel()
	url := rawServer{skipUTF8: true}.start(t)
	sum, _ := run(t, url, "6.*")
	checkFailed(t, sum, autobahn.InvalidUTF8Cases())
	if n := len(autobahn.InvalidUTF8Cases()); n != 75 {
		t.Errorf("%d invalid UTF-8 cases, want 75", n)
	}
}

// The reference server must pass everything, or the broken servers prove little.
func TestGoodServer(t *testing.T) {
	t.Parallel()
	url := rawServer{deflate: true}.start(t)
	// Compression: the small sizes with every parameter set, and small
	// windows with auto-fragmentation (the large sizes take long, more so
	// under the race detector).
	cases := []string{"1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*",
		"12.1.1", "12.4.2", "13.1.1", "13.2.1", "13.3.1", "13.5.2", "13.7.1", "13.3.11"}
	sum, _ := run(t, url, cases...)
	checkFailed(t, sum, nil)
	for _, r := range sum.Results {
		want := autobahn.OK
		if r.ID == "7.1.6" || strings.HasPrefix(r.ID, "7.13.") {
			want = autobahn.Informational
		}
		if r.Behavior != want || (r.BehaviorClose != autobahn.OK && r.BehaviorClose != autobahn.Informational) {
			t.Errorf("case %s: %s / %s, want %s: %s | %s", r.ID, r.Behavior, r.BehaviorClose, want, r.Result, r.ResultClose)
		}
		if testing.Verbose() && r.Duration > 300*time.Millisecond {
			t.Logf("slow: %s %v", r.ID, r.Duration)
		}
	}
	t.Log(sum)
}
