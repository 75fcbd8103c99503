package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestMetricsDocumented: every edgews_* family a fully configured node
// serves is documented in docs/metrics.md, and every documented family is
// served.
func TestMetricsDocumented(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"user":"m","context":"1"}`)
	}))
	defer backend.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	bind := freeAddr(t, "127.0.0.1")
	ts := startServer(t, func(c *Config) {
		c.NodeName = "metrics-a"
		c.Session.Verifier = "http"
		c.Session.HTTP.URL = backend.URL
		c.Webhook.URL = hook.URL
		c.Cluster.Bind = bind
		withTranscoders(c, map[string]TranscoderConfig{"id": {Builtin: "identity"}}, RouteConfig{Path: "/id", Transcoder: "id"})
	})
	// A second node, so that per-member families have a member.
	startServer(t, func(c *Config) {
		c.NodeName = "metrics-b"
		c.Cluster.Bind = freeAddr(t, "127.0.0.2")
		c.Cluster.Join = []string{bind}
	})
	ts.mustDial("/id", "s1")
	eventually(t, "socket and peer", func() bool { return ts.reg.total.Load() == 1 && len(ts.cluster.Metrics().Peers) == 1 })
	resp, err := http.Get(ts.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	served := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (edgews_[a-z_]+) `).FindAllStringSubmatch(string(body), -1) {
		served[m[1]] = true
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(edgews_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	var missing, stale []string
	for m := range served {
		if !documented[m] {
			missing = append(missing, m)
		}
	}
	for m := range documented {
		if !served[m] {
			stale = append(stale, m)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing)+len(stale) > 0 {
		t.Fatalf("docs/metrics.md: undocumented %v; documented but not served %v", missing, stale)
	}
	if len(served) < 20 {
		t.Fatalf("only %d families served: %s", len(served), strings.Join(keys(served), " "))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
