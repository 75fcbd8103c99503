package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one run: every target's figures, the ratios
// between them, the machine and the exact command line.
type Report struct {
	Mode     string            `json:"mode"`
	Command  string            `json:"command"`
	Machine  Machine           `json:"machine"`
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"`
	Settings map[string]string `json:"settings"`
	Results  []Result          `json:"results"`
	Ratios   []Ratio           `json:"ratios"`
	Notes    []string          `json:"notes,omitempty"`
	// EdgewsConfig is the generated config file of the (first) edgews
	// target, for reproducing a figure by hand.
	EdgewsConfig string `json:"edgews_config,omitempty"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel,omitempty"`
	Revision  string `json:"revision,omitempty"`
	// LoadAvg is /proc/loadavg's 1-minute value at the start: the machine
	// may be shared.
	LoadAvg float64 `json:"load_avg"`
}

// Result is one measurement: a target, a route and a case (connections,
// verifier, message size, ...).
type Result struct {
	Target     string   `json:"target"`
	Route      string   `json:"route,omitempty"`
	Case       string   `json:"case,omitempty"`
	Metrics    []Metric `json:"metrics"`
	Errors     int64    `json:"errors"`
	FirstError string   `json:"first_error,omitempty"`
}

// Metric is one figure.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Ratio compares two results' metrics: Of / Over.
type Ratio struct {
	Of     string             `json:"of"`
	Over   string             `json:"over"`
	Route  string             `json:"route,omitempty"`
	Case   string             `json:"case,omitempty"`
	Values map[string]float64 `json:"values"`
	order  []string
}

func newReport(o Options) *Report {
	s := map[string]string{
		"targets": strings.Join(o.Targets, ","),
		"routes":  strings.Join(o.Routes, ","),
	}
	switch o.Mode {
	case ModeIdle:
		s["count"], s["size"] = strconv.Itoa(o.Count), strconv.Itoa(o.Size)
	case ModeEcho:
		s["conns"], s["inflight"], s["size"] = joinInts(o.Conns), strconv.Itoa(o.InFlight), strconv.Itoa(o.Size)
		s["duration"], s["warmup"], s["slices"] = o.Duration.String(), o.Warmup.String(), strconv.Itoa(o.Slices)
	case ModeFanout:
		s["users"], s["rounds"], s["batch"], s["senders"], s["size"] = strconv.Itoa(o.Count), strconv.Itoa(o.Rounds), strconv.Itoa(o.Batch), strconv.Itoa(o.Senders), strconv.Itoa(o.Size)
		s["warmup_rounds"], s["slices"] = strconv.Itoa(o.WarmupRounds), strconv.Itoa(o.Slices)
	case ModeHandshake:
		s["workers"], s["duration"], s["verifiers"], s["slices"] = strconv.Itoa(o.Workers), o.Duration.String(), strings.Join(o.Verifiers, ","), strconv.Itoa(o.Slices)
	case ModeCluster:
		s["sizes"], s["senders"], s["duration"] = joinInts(o.Sizes), strconv.Itoa(o.Senders), o.Duration.String()
		var d []string
		for _, v := range o.Delays {
			d = append(d, delayName(v))
		}
		s["delays"], s["exists_count"] = strings.Join(d, ","), strconv.Itoa(o.ExistsCount)
		delete(s, "targets")
		delete(s, "routes")
	}
	s["sources"] = strconv.Itoa(o.Sources)
	return &Report{Mode: o.Mode, Command: o.CommandLine, Machine: machine(), Started: time.Now(), Settings: s}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (r *Report) finish() { r.Seconds = math.Round(time.Since(r.Started).Seconds()*10) / 10 }

func (r *Report) add(res Result) { r.Results = append(r.Results, res) }

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// metric returns a result's metric value.
func (res *Result) metric(name string) (float64, bool) {
	for _, m := range res.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// compare adds a ratio of the named metrics of the first result matching
// of and the first matching over, when both exist and the divisor is not
// zero.
func (r *Report) compare(ofLabel, overLabel string, of, over func(*Result) bool, route, cas string, metrics ...string) {
	var a, b *Result
	for i := range r.Results {
		if a == nil && of(&r.Results[i]) {
			a = &r.Results[i]
		}
		if b == nil && over(&r.Results[i]) {
			b = &r.Results[i]
		}
	}
	if a == nil || b == nil {
		return
	}
	ra := Ratio{Of: ofLabel, Over: overLabel, Route: route, Case: cas, Values: map[string]float64{}}
	for _, m := range metrics {
		x, ok1 := a.metric(m)
		y, ok2 := b.metric(m)
		if ok1 && ok2 && y != 0 {
			ra.Values[m] = math.Round(x/y*1000) / 1000
			ra.order = append(ra.order, m)
		}
	}
	if len(ra.order) > 0 {
		r.Ratios = append(r.Ratios, ra)
	}
}

// match selects results by target, route and case ("" matches any).
func match(target, route, cas string) func(*Result) bool {
	return func(res *Result) bool {
		return res.Target == target && (route == "" || res.Route == route) && (cas == "" || res.Case == cas)
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people: the command and machine, one
// row per result, one row per ratio.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "edgews bench %s\n", r.Mode)
	fmt.Fprintf(bw, "command: %s\n", r.Command)
	m := r.Machine
	fmt.Fprintf(bw, "machine: %s, %d cores, %s, kernel %s, load %.2f at start", m.CPU, m.Cores, m.GoVersion, m.Kernel, m.LoadAvg)
	if m.Revision != "" {
		fmt.Fprintf(bw, ", revision %s", m.Revision)
	}
	fmt.Fprintf(bw, "\nstarted: %s, took %.1fs\n", r.Started.Format(time.RFC3339), r.Seconds)
	var keys []string
	for k := range r.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		sep := ", "
		if i == 0 {
			sep = "settings: "
		}
		fmt.Fprintf(bw, "%s%s=%s", sep, k, r.Settings[k])
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw)

	// Results: the union of metric columns, in order of appearance.
	var cols []string
	units := map[string]string{}
	for _, res := range r.Results {
		for _, mt := range res.Metrics {
			if _, ok := units[mt.Name]; !ok {
				units[mt.Name] = mt.Unit
				cols = append(cols, mt.Name)
			}
		}
	}
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "target\troute\tcase\t")
	for _, c := range cols {
		if u := units[c]; u != "" {
			c += " (" + u + ")"
		}
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw, "errors\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t", res.Target, dash(res.Route), dash(res.Case))
		for _, c := range cols {
			if v, ok := res.metric(c); ok {
				fmt.Fprintf(tw, "%s\t", formatValue(v))
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintf(tw, "%d\t\n", res.Errors)
	}
	tw.Flush()
	for _, res := range r.Results {
		if res.FirstError != "" {
			fmt.Fprintf(bw, "first error (%s %s %s): %s\n", res.Target, res.Route, res.Case, res.FirstError)
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(bw)
		tw = tabwriter.NewWriter(bw, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ratio\troute\tcase\tvalues\t")
		for _, ra := range r.Ratios {
			var parts []string
			for _, k := range ra.order {
				parts = append(parts, fmt.Sprintf("%s %.3f", k, ra.Values[k]))
			}
			fmt.Fprintf(tw, "%s / %s\t%s\t%s\t%s\t\n", ra.Of, ra.Over, dash(ra.Route), dash(ra.Case), strings.Join(parts, ", "))
		}
		tw.Flush()
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "note: %s\n", n)
		}
	}
	return bw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a == math.Trunc(a) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// machine describes this machine.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAvg, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+modified"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			m.Revision = rev + dirty
		}
	}
	return m
}

// QuoteArgs renders a command line a shell would read back the same way.
func QuoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// ms and us convert durations for metrics.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
func us(d time.Duration) float64 { return math.Round(float64(d)/1e1) / 1e2 }

// rate is n per second over d, rounded.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n) / d.Seconds())
}
