package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestReportTableAndJSON(t *testing.T) {
	t.Parallel()
	o := DefaultOptions(ModeEcho)
	o.CommandLine = "edgews bench echo --conns 100"
	r := newReport(o)
	r.add(Result{Target: targetEdgews, Route: "/echo", Case: "conns=100", Metrics: []Metric{{"msgs_per_s", 300000, "/s"}, {"p99", 900, "µs"}}})
	r.add(Result{Target: targetReference, Route: "/echo", Case: "conns=100", Metrics: []Metric{{"msgs_per_s", 150000, "/s"}, {"p99", 1800, "µs"}}, Errors: 2, FirstError: "boom"})
	r.compare(targetEdgews, targetReference, match(targetEdgews, "/echo", "conns=100"), match(targetReference, "/echo", "conns=100"), "/echo", "conns=100", "msgs_per_s", "p99", "missing")
	r.compare("a", "b", match("nobody", "", ""), match(targetReference, "", ""), "", "", "p99") // no match: no ratio
	r.note("a note")
	r.finish()
	if len(r.Ratios) != 1 || r.Ratios[0].Values["msgs_per_s"] != 2 || r.Ratios[0].Values["p99"] != 0.5 {
		t.Fatalf("ratios %+v", r.Ratios)
	}
	var tb bytes.Buffer
	if err := r.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"command: edgews bench echo --conns 100", "msgs_per_s (/s)", "300000", "edgews / reference", "msgs_per_s 2.000, p99 0.500", "first error (reference /echo conns=100): boom", "note: a note", "cores"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
	var jb bytes.Buffer
	if err := r.WriteJSON(&jb); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil || back.Mode != ModeEcho || len(back.Results) != 2 || back.Ratios[0].Values["p99"] != 0.5 || back.Machine.Cores < 1 {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
}

func TestQuoteArgs(t *testing.T) {
	t.Parallel()
	got := QuoteArgs([]string{"bench", "echo", "--route", "/echo,/socket.io", "--x", "a b", "it's", ""})
	want := `bench echo --route /echo,/socket.io --x 'a b' 'it'\''s' ''`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	base := func(mode string) Options {
		o := DefaultOptions(mode)
		o.Edgews, o.Reference = Command{Path: "/bin/true"}, Command{Path: "/bin/true"}
		return o
	}
	for _, tt := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"mode", func(o *Options) { o.Mode = "nap" }, `mode "nap"`},
		{"target", func(o *Options) { o.Targets = []string{"nginx"} }, `--target "nginx"`},
		{"route", func(o *Options) { o.Routes = []string{"/chat"} }, `route "/chat"`},
		{"count", func(o *Options) { o.Count = 20000 }, "19,000"},
		{"size", func(o *Options) { o.Size = 8 }, "--size"},
		{"conns", func(o *Options) { o.Conns = []int{0} }, "--conns"},
		{"verifier", func(o *Options) { o.Verifiers = []string{"ldap"} }, `--verifier "ldap"`},
		{"sources", func(o *Options) { o.Sources = 0 }, "--sources"},
		{"no edgews", func(o *Options) { o.Edgews.Path = "" }, "no edgews executable"},
	} {
		o := base(ModeIdle)
		tt.edit(&o)
		err := o.validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	o := base(ModeEcho)
	o.Routes = []string{"/socket.io", "/echo"}
	if err := o.validate(); err != nil || o.Routes[0] != "/socket.io/*" {
		t.Fatalf("valid options refused: %v %v", err, o.Routes)
	}
}
