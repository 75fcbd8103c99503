package server

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes: every route the admin API serves is in
// openapi.json with its method, and nothing else is; the served document is
// the embedded one; public endpoints are marked so.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	documented := map[string]bool{}
	public := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			k := strings.ToUpper(method) + " " + path
			documented[k] = true
			public[k] = op.Security != nil && len(*op.Security) == 0
		}
	}
	s := &Server{}
	served := map[string]bool{}
	for _, r := range s.adminRoutes() {
		k := r.method + " " + r.path
		served[k] = true
		if !documented[k] {
			t.Errorf("%s is served but not in openapi.json", k)
		} else if public[k] != r.public {
			t.Errorf("%s: public %v in openapi.json, %v in the server", k, public[k], r.public)
		}
	}
	var extra []string
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("in openapi.json but not served: %v", extra)
	}
	// The running server serves the same document, without a token.
	ts := startServer(t, func(c *Config) { c.Admin.Token = "t0k" })
	ts.token = ""
	var served2 map[string]any
	if st := ts.api("GET", "/api/v1/openapi.json", nil, &served2); st != 200 || served2["openapi"] != "3.1.0" {
		t.Fatalf("served openapi: %d", st)
	}
	// Every documented path answers something other than 404 (routing).
	for k := range documented {
		method, path, _ := strings.Cut(k, " ")
		path = strings.NewReplacer("{id}", "x", "{name}", "x").Replace(path)
		if st := ts.api(method, path, nil, nil); st == 404 && !strings.Contains(path, "transcoders/") {
			t.Errorf("%s %s: 404", method, path)
		}
	}
}
