package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgews/edgews/conformance/autobahn"
)

// conformanceSetups are the routes of conformance/edgews.yaml, one per
// set-up the gate runs.
var conformanceSetups = []struct{ name, path string }{
	{"plain", "/echo"},
	{"identity", "/echo-identity"},
	{"deflate", "/echo-deflate"},
}

// TestConformanceGate runs the project's Autobahn|Testsuite runner against
// the real edgews binary in every set-up and fails on any FAILED case. It
// is slow (sections 12 and 13 send 216,000 compressed messages), so it runs
// from `just conformance` without the race detector rather than inside the
// race-enabled unit test run.
func TestConformanceGate(t *testing.T) {
	if os.Getenv("EDGEWS_CONFORMANCE") == "" {
		t.Skip("the conformance gate runs from `just conformance` (EDGEWS_CONFORMANCE=1)")
	}
	cases := strings.Split(envOr("EDGEWS_CONFORMANCE_CASES", "1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*,12.*,13.*"), ",")
	var exclude []string
	if e := os.Getenv("EDGEWS_CONFORMANCE_EXCLUDE"); e != "" {
		exclude = strings.Split(e, ",")
	}
	root, _ := filepath.Abs("../../..")
	p := startBinary(t, "--config", filepath.Join(root, "conformance/edgews.yaml"), "--log-level", "warn")
	resp, err := http.Post("http://"+p.listen+"/dev/login", "application/json", strings.NewReader(`{"user":"autobahn","context":"conformance"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Session string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()

	for _, setup := range conformanceSetups {
		start := time.Now()
		sum, err := autobahn.Run(context.Background(), autobahn.Options{
			URL:      "ws://" + p.listen + setup.path + "?session=" + login.Session,
			Cases:    cases,
			Exclude:  exclude,
			Parallel: 4,
			Agent:    "edgews-" + setup.name,
			OutDir:   filepath.Join(root, "reports/conformance", setup.name),
		})
		if err != nil {
			t.Fatalf("%s: %v", setup.name, err)
		}
		t.Logf("%s (%s, %v): %s", setup.name, setup.path, time.Since(start).Round(time.Second), sum)
		if failed := sum.Failed(); len(failed) > 0 {
			t.Errorf("%s: FAILED cases %v (reports in reports/conformance/%s)", setup.name, failed, setup.name)
		}
		for _, r := range sum.Results {
			// NON-STRICT passes Autobahn, but none is left that edgews could
			// fix (conformance/README.md): one appearing is a regression.
			// (The identity set-up once lost echoes that a batching round
			// still held when a protocol error closed the socket: 3.2,
			// 4.1.3-4.1.5, 4.2.3, 4.2.4, 5.15.)
			if r.Behavior == autobahn.NonStrict {
				t.Errorf("%s: case %s NON-STRICT: %s", setup.name, r.ID, r.Result)
			}
			if r.BehaviorClose != autobahn.OK && r.BehaviorClose != autobahn.Informational {
				t.Errorf("%s: case %s close behaviour %s: %s", setup.name, r.ID, r.BehaviorClose, r.ResultClose)
			}
		}
	}
}
