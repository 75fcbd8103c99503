package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchCommand runs `edgews bench echo` in-process against the built
// edgews binary (edgews only: the reference needs the subcommand wired
// into the binary), and checks the flags' validation.
func TestBenchCommand(t *testing.T) {
	t.Parallel()
	cmd := newBenchCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"echo", "--target", "edgews", "--edgews-bin", binary, "--conns", "2", "--inflight", "2",
		"--duration", "300ms", "--warmup", "50ms", "--slices", "1", "--sources", "2", "--route", "/echo,/socket.io", "--json", "-q"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rep struct {
		Mode    string
		Command string
		Results []struct {
			Target, Route string
			Errors        int
			Metrics       []struct {
				Name  string
				Value float64
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Mode != "echo" || len(rep.Results) != 2 || !strings.HasPrefix(rep.Command, "edgews ") {
		t.Fatalf("report: %s", out.String())
	}
	for _, r := range rep.Results {
		if r.Target != "edgews" || r.Errors != 0 || r.Metrics[1].Name != "msgs_per_s" || r.Metrics[1].Value <= 0 {
			t.Fatalf("result %+v", r)
		}
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "--delays", "soon"}, `--delays "soon"`},
		{[]string{"idle", "--count", "30000"}, "19,000"},
		{[]string{"echo", "--target", "nginx"}, `--target "nginx"`},
		{[]string{"reference-server", "--listen", "0.0.0.0:9080"}, "not a loopback address"},
	} {
		cmd := newBenchCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
