package autobahn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgews/edgews/conformance/autobahn"
	"github.com/valyala/fasthttp"
)

func TestReports(t *testing.T) {
	t.Parallel()
	url := rawServer{}.start(t)
	dir := t.TempDir()
	var seen []string
	sum, err := autobahn.Run(context.Background(), autobahn.Options{
		URL: url, Cases: []string{"1.1.1", "2.5", "6.4.1", "7.1.6"}, OutDir: dir, Parallel: 4,
		Header:   http.Header{"Origin": {"http://example.com"}},
		OnResult: func(r autobahn.Result) { seen = append(seen, r.ID) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Agent != "rawserver" || !sum.Reported || len(seen) != 4 {
		t.Fatalf("agent %q reported %v callbacks %v", sum.Agent, sum.Reported, seen)
	}
	var index map[string]map[string]struct {
		Behavior        string `json:"behavior"`
		BehaviorClose   string `json:"behaviorClose"`
		Duration        int64  `json:"duration"`
		RemoteCloseCode *int   `json:"remoteCloseCode"`
		ReportFile      string `json:"reportfile"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	entry, ok := index["rawserver"]["2.5"]
	if !ok || entry.Behavior != autobahn.OK || entry.RemoteCloseCode == nil || *entry.RemoteCloseCode != 1002 || entry.ReportFile != "rawserver_case_2_5.json" {
		t.Fatalf("index entry for 2.5: %+v", entry)
	}
	var rep map[string]any
	readJSON(t, filepath.Join(dir, "rawserver_case_1_1_1.json"), &rep)
	for _, key := range []string{"agent", "behavior", "behaviorClose", "case", "closedByMe", "description", "droppedByMe", "duration",
		"expectation", "expected", "expectedClose", "failedByMe", "httpRequest", "httpResponse", "id", "isServer", "localCloseCode",
		"localCloseReason", "received", "remoteCloseCode", "remoteCloseReason", "result", "resultClose", "rxFrameStats",
		"rxOctetStats", "started", "txFrameStats", "txOctetStats", "wasClean", "wasNotCleanReason", "wirelog"} {
		if _, ok := rep[key]; !ok {
			t.Errorf("case report lacks %q", key)
		}
	}
	if req, _ := rep["httpRequest"].(string); !strings.Contains(req, "Origin: http://example.com\r\n") {
		t.Errorf("extra header not sent:\n%s", req)
	}
	if got := rep["received"]; len(got.([]any)) != 1 {
		t.Errorf("received = %v", got)
	}
	// 6.4.1 passed its first checkpoint, then the server failed the connection.
	var rep641 struct {
		Received []any   `json:"received"`
		Wirelog  [][]any `json:"wirelog"`
	}
	readJSON(t, filepath.Join(dir, "rawserver_case_6_4_1.json"), &rep641)
	var timers []string
	for _, row := range rep641.Wirelog {
		if k := row[0].(string); k == "CT" || k == "CTE" || k == "KL" {
			timers = append(timers, k)
		}
	}
	if len(rep641.Received) != 1 || strings.Join(timers, ",") != "CT,CTE,CT" {
		t.Errorf("6.4.1: received %v, timer rows %v", rep641.Received, timers)
	}
	html, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Case 7.1.6", `href="rawserver_case_2_5.html"`, "INFORMATIONAL"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rawserver_case_6_4_1.html")); err != nil {
		t.Error(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	sum, byID := run(t, "ws://"+addr+"/", "1.1.1", "7.13.1")
	// As in the official suite, 7.13.x is informational whatever happens.
	if sum.Counts[autobahn.Failed] != 1 || byID["1.1.1"].BehaviorClose != autobahn.Failed || !strings.Contains(byID["1.1.1"].ResultClose, "TCP connection failed") {
		t.Errorf("unreachable server: %s; %+v", sum, byID["1.1.1"])
	}
}

func TestHandshakeRejected(t *testing.T) {
	t.Parallel()
	url := listen(t, func(ctx *fasthttp.RequestCtx) { ctx.Error("no", fasthttp.StatusForbidden) })
	sum, byID := run(t, url, "1.*")
	if sum.Counts[autobahn.Failed] != 16 || !strings.Contains(byID["1.2.3"].ResultClose, "opening handshake") {
		t.Errorf("rejected handshake: %s; %+v", sum, byID["1.2.3"])
	}
}

// A server that completes the handshake and then says nothing exercises
// the client's own timeouts: the kill timer, then the closing handshake
// timeout, then the drop.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	url := listen(t, silent)
	_, byID := run(t, url, "1.1.1", "2.1")
	for _, id := range []string{"1.1.1", "2.1"} {
		r := byID[id]
		if r.Behavior != autobahn.Failed || r.BehaviorClose != autobahn.Unclean {
			t.Errorf("%s: %s / %s (%s)", id, r.Behavior, r.BehaviorClose, r.ResultClose)
		}
	}
}

func TestRunnerTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() }) // accept, never answer
		}
	}()
	sum, err := autobahn.Run(context.Background(), autobahn.Options{URL: "ws://" + ln.Addr().String() + "/", Cases: []string{"1.1.1"}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The runner's limit, not the 5 s opening handshake timeout, ended it.
	r := sum.Results[0]
	if r.Behavior != autobahn.Failed || r.BehaviorClose != autobahn.Failed || !strings.Contains(r.Note, "did not finish within 300ms") {
		t.Errorf("hanging server: %+v", r)
	}
}

func TestRunOptionErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := autobahn.Run(ctx, autobahn.Options{URL: "http://x/"}); !errors.Is(err, autobahn.ErrBadURL) {
		t.Errorf("bad URL: %v", err)
	}
	if _, err := autobahn.Run(ctx, autobahn.Options{URL: "ws://x/", Cases: []string{"99"}}); !errors.Is(err, autobahn.ErrUnknownCase) {
		t.Errorf("unknown case: %v", err)
	}
	if _, err := autobahn.Run(ctx, autobahn.Options{URL: "ws://x/", TestData: t.TempDir()}); !errors.Is(err, autobahn.ErrTestData) {
		t.Errorf("missing test data: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := autobahn.Run(cancelled, autobahn.Options{URL: "ws://127.0.0.1:1/"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
