package autobahn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a run of the suite against one server.
type Options struct {
	// URL of the WebSocket endpoint, ws:// or wss://. Required.
	URL string
	// Cases and Exclude select cases by id pattern (see CaseIDs). Empty
	// Cases selects everything.
	Cases   []string
	Exclude []string
	// OutDir, when set, receives index.json, index.html and one JSON and
	// one HTML report per case.
	OutDir string
	// Agent names the server in reports. Empty: the Server header of the
	// first successful handshake, else "UnknownServer".
	Agent string
	// Parallel is how many cases run at once; 0 or 1 runs them one after
	// the other, as the official suite does. Cases never share a connection.
	Parallel int
	// Header holds extra headers for every upgrade request (Origin,
	// Cookie...). A Host header here replaces the one derived from URL.
	Header http.Header
	// Timeout bounds every case. Zero: each case's own longest wait plus 10 s.
	Timeout time.Duration
	// TestData is a directory with the official payload files of the
	// compression cases (pg2229.txt, lena512.bmp, 10.1.1.105.5439.pdf,
	// data1.json, data1.html). Empty: generated stand-ins are used.
	TestData string
	// TLSConfig is used for wss:// URLs. Nil: the system defaults.
	TLSConfig *tls.Config
	// Logger receives one debug record per finished case. Nil: discard.
	Logger *slog.Logger
	// OnResult, when set, is called after each case, one call at a time.
	OnResult func(Result)
}

// Result is the outcome of one case.
type Result struct {
	ID            string
	Behavior      string // OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED
	BehaviorClose string // OK, INFORMATIONAL, FAILED, WRONG CODE, UNCLEAN or FAILED BY CLIENT
	// Duration is from the end of the opening handshake to the end of the
	// connection; zero when the handshake did not complete.
	Duration time.Duration
	// RemoteCloseCode is the code in the server's close frame; 0 if none.
	RemoteCloseCode int
	Result          string // why the behaviour verdict is what it is
	ResultClose     string // why the close verdict is what it is
	// Note says why the runner itself intervened (its time limit,
	// cancellation, a failed write), if it did.
	Note       string
	ReportFile string // JSON report, relative to Options.OutDir; empty without OutDir
}

// Summary is the outcome of a run.
type Summary struct {
	Agent    string
	Results  []Result // in case-id order
	Counts   map[string]int
	Elapsed  time.Duration
	Reported bool // reports were written to Options.OutDir
}

// Failed returns the ids of the cases whose behaviour is FAILED.
func (s *Summary) Failed() []string {
	var ids []string
	for _, r := range s.Results {
		if r.Behavior == Failed {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// String is the one-line summary the CLI prints.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d cases in %.1fs:", len(s.Results), s.Elapsed.Seconds())
	for _, v := range []string{OK, NonStrict, Informational, Unimplemented, Failed} {
		fmt.Fprintf(&b, " %s=%d", v, s.Counts[v])
	}
	if f := s.Failed(); len(f) > 0 {
		fmt.Fprintf(&b, " failed: %s", strings.Join(f, " "))
	}
	return b.String()
}

// ErrOptions is returned for unusable options.
var ErrOptions = errors.New("autobahn: invalid options")

// Run plays the selected cases against the server and returns the verdicts.
// It returns an error only for unusable options or when reports cannot be
// written; a server that cannot be reached makes every case FAILED.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	u, err := parseWSURL(opts.URL)
	if err != nil {
		return nil, err
	}
	ids, err := CaseIDs(opts.Cases, opts.Exclude)
	if err != nil {
		return nil, err
	}
	if opts.Parallel < 0 || opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative Parallel or Timeout", ErrOptions)
	}
	data := &testDataSet{dir: opts.TestData}
	if err := data.check(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := &runConfig{
		url:       u,
		header:    opts.Header.Clone(),
		tlsConfig: opts.TLSConfig,
		chopPause: 10 * time.Microsecond,
		timeout:   opts.Timeout,
		data:      data,
	}
	parallel := max(opts.Parallel, 1)

	start := time.Now()
	reg := registry()
	index := map[string]int{}
	for i, s := range reg.list {
		index[s.id] = i + 1
	}
	reps := make([]*caseReport, len(ids))
	var mu sync.Mutex // serialises OnResult
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, id := range ids {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			spec := reg.byID[id]
			rep := newRun(spec, cfg).execute(ctx)
			rep.Case = index[id]
			reps[i] = rep
			logger.Debug("case finished", "case", id, "behavior", rep.Behavior, "behaviorClose", rep.BehaviorClose, "duration_ms", rep.Duration)
			if opts.OnResult != nil {
				mu.Lock()
				opts.OnResult(resultOf(rep))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sortReports(reps)

	agent := opts.Agent
	if agent == "" {
		for _, rep := range reps {
			if rep.serverHeader != "" {
				agent = rep.serverHeader
				break
			}
		}
	}
	if agent == "" {
		agent = "UnknownServer"
	}
	for _, rep := range reps {
		rep.Agent = agent
	}
	sum := &Summary{Agent: agent, Counts: map[string]int{}, Elapsed: time.Since(start)}
	if opts.OutDir != "" {
		if err := writeReports(opts.OutDir, agent, reps, start); err != nil {
			return nil, err
		}
		sum.Reported = true
	}
	for _, rep := range reps {
		sum.Counts[rep.Behavior]++
		sum.Results = append(sum.Results, resultOf(rep))
	}
	return sum, nil
}

func resultOf(rep *caseReport) Result {
	r := Result{
		ID:            rep.ID,
		Behavior:      rep.Behavior,
		BehaviorClose: rep.BehaviorClose,
		Duration:      time.Duration(rep.Duration) * time.Millisecond,
		Result:        rep.Result,
		ResultClose:   rep.ResultClose,
		Note:          rep.RunnerNote,
		ReportFile:    rep.reportFile,
	}
	if rep.RemoteCloseCode != nil {
		r.RemoteCloseCode = *rep.RemoteCloseCode
	}
	return r
}

// Describe returns a case's description and expectation.
func Describe(id string) (description, expectation string, ok bool) {
	s, ok := registry().byID[id]
	if !ok {
		return "", "", false
	}
	return s.desc, s.expect, true
}
