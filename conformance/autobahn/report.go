package autobahn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// caseReport is the full record of one case run. Its JSON form has the
// keys of the official per-case report files, plus the negotiated
// extension and a note when the runner itself intervened.
type caseReport struct {
	Agent                          string           `json:"agent"`
	Behavior                       string           `json:"behavior"`
	BehaviorClose                  string           `json:"behaviorClose"`
	Case                           int              `json:"case"`
	ClosedByMe                     bool             `json:"closedByMe"`
	CreateStats                    bool             `json:"createStats"`
	CreateWirelog                  bool             `json:"createWirelog"`
	Description                    string           `json:"description"`
	DroppedByMe                    bool             `json:"droppedByMe"`
	Duration                       int64            `json:"duration"`
	Expectation                    string           `json:"expectation"`
	Expected                       map[string][]any `json:"expected"`
	ExpectedClose                  map[string]any   `json:"expectedClose"`
	Extension                      map[string]any   `json:"extension"`
	FailedByMe                     bool             `json:"failedByMe"`
	HTTPRequest                    string           `json:"httpRequest"`
	HTTPResponse                   string           `json:"httpResponse"`
	ID                             string           `json:"id"`
	IsServer                       bool             `json:"isServer"`
	LocalCloseCode                 *int             `json:"localCloseCode"`
	LocalCloseReason               *string          `json:"localCloseReason"`
	Received                       []any            `json:"received"`
	RemoteCloseCode                *int             `json:"remoteCloseCode"`
	RemoteCloseReason              *string          `json:"remoteCloseReason"`
	ReportCompressionRatio         bool             `json:"reportCompressionRatio"`
	ReportTime                     bool             `json:"reportTime"`
	Result                         string           `json:"result"`
	ResultClose                    string           `json:"resultClose"`
	RunnerNote                     string           `json:"runnerNote,omitempty"`
	RxFrameStats                   map[int]int      `json:"rxFrameStats"`
	RxOctetStats                   map[int]int      `json:"rxOctetStats"`
	Started                        string           `json:"started"`
	TrafficStats                   map[string]any   `json:"trafficStats"`
	TxFrameStats                   map[int]int      `json:"txFrameStats"`
	TxOctetStats                   map[int]int      `json:"txOctetStats"`
	WasClean                       bool             `json:"wasClean"`
	WasCloseHandshakeTimeout       bool             `json:"wasCloseHandshakeTimeout"`
	WasNotCleanReason              *string          `json:"wasNotCleanReason"`
	WasOpenHandshakeTimeout        bool             `json:"wasOpenHandshakeTimeout"`
	WasServerConnectionDropTimeout bool             `json:"wasServerConnectionDropTimeout"`
	Wirelog                        []any            `json:"wirelog"`

	serverHeader string
	reportFile   string
}

func eventJSON(e event) []any {
	switch e.kind {
	case "message":
		return []any{e.kind, asciiLogData(e.data), e.binary}
	case "timeout":
		return []any{e.kind, string(e.data)}
	default:
		return []any{e.kind, asciiLogData(e.data)}
	}
}

func eventsJSON(es []event) []any {
	out := make([]any, 0, len(es))
	for _, e := range es {
		out = append(out, eventJSON(e))
	}
	return out
}

// report turns the finished run into its record.
func (r *run) report() *caseReport {
	rep := &caseReport{
		Behavior:                       r.behavior,
		BehaviorClose:                  r.behaviorClose,
		ClosedByMe:                     r.closedByMe,
		CreateStats:                    true,
		CreateWirelog:                  r.wirelogOn,
		Description:                    r.spec.desc,
		DroppedByMe:                    r.droppedByMe,
		Expectation:                    r.spec.expect,
		Expected:                       map[string][]any{},
		FailedByMe:                     r.failedByMe,
		HTTPRequest:                    orQuestion(r.httpRequest),
		HTTPResponse:                   orQuestion(r.httpResponse),
		ID:                             r.spec.id,
		LocalCloseCode:                 r.localCloseCode,
		Received:                       eventsJSON(r.received),
		RemoteCloseCode:                r.remoteCloseCode,
		RemoteCloseReason:              r.remoteCloseReason,
		ReportCompressionRatio:         r.reportCompressionRatio,
		ReportTime:                     r.reportTime,
		Result:                         r.result,
		ResultClose:                    r.resultClose,
		RunnerNote:                     r.note,
		RxFrameStats:                   r.rxFrames,
		RxOctetStats:                   r.rxOctets,
		Started:                        r.started.UTC().Format("2006-01-02T15:04:05.000Z"),
		TxFrameStats:                   r.txFrames,
		TxOctetStats:                   r.txOctets,
		WasClean:                       r.wasClean,
		WasCloseHandshakeTimeout:       r.wasCloseHandshakeTimeout,
		WasNotCleanReason:              r.wasNotCleanReason,
		WasOpenHandshakeTimeout:        r.wasOpenHandshakeTimeout,
		WasServerConnectionDropTimeout: r.wasServerConnectionDropTimeout,
		Wirelog:                        r.wirelog,
		serverHeader:                   r.serverHeader,
	}
	if rep.Wirelog == nil {
		rep.Wirelog = []any{}
	}
	if !r.caseStart.IsZero() {
		rep.Duration = r.caseEnd.Sub(r.caseStart).Milliseconds()
	}
	for _, o := range r.expected {
		rep.Expected[o.behavior] = eventsJSON(o.events)
	}
	ec := r.expectedClose
	rep.ExpectedClose = map[string]any{"closedByMe": ec.closedByMe, "closeCode": nonNilInts(ec.codes), "requireClean": ec.requireClean}
	if ec.wrongEndpointFatal {
		rep.ExpectedClose["closedByWrongEndpointIsFatal"] = true
	}
	switch {
	case r.localCloseReasonReport != nil:
		rep.LocalCloseReason = r.localCloseReasonReport
	case r.hasLocalCloseReason:
		s := string(r.localCloseReason)
		rep.LocalCloseReason = &s
	}
	if r.trafficResult != nil {
		rep.TrafficStats = r.trafficResult.json()
	}
	if r.pmce != nil {
		rep.Extension = r.pmce.json()
	}
	return rep
}

func orQuestion(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func nonNilInts(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// cleanForFilename turns an agent name into a file name part: lower case,
// letters and digits kept, everything else a single underscore position.
func cleanForFilename(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = ' '
		}
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_")
}

func reportFileName(agent, id, ext string) string {
	return cleanForFilename(agent) + "_case_" + strings.ReplaceAll(id, ".", "_") + "." + ext
}

type indexEntry struct {
	Behavior        string `json:"behavior"`
	BehaviorClose   string `json:"behaviorClose"`
	Duration        int64  `json:"duration"`
	RemoteCloseCode *int   `json:"remoteCloseCode"`
	ReportFile      string `json:"reportfile"`
}

// writeReports writes index.json, index.html and one JSON and one HTML file
// per case into dir.
func writeReports(dir, agent string, reps []*caseReport, started time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	index := map[string]map[string]indexEntry{agent: {}}
	for _, rep := range reps {
		rep.reportFile = reportFileName(agent, rep.ID, "json")
		index[agent][rep.ID] = indexEntry{
			Behavior:        rep.Behavior,
			BehaviorClose:   rep.BehaviorClose,
			Duration:        rep.Duration,
			RemoteCloseCode: rep.RemoteCloseCode,
			ReportFile:      rep.reportFile,
		}
		if err := writeJSON(filepath.Join(dir, rep.reportFile), rep); err != nil {
			return err
		}
		if err := writeCaseHTML(filepath.Join(dir, reportFileName(agent, rep.ID, "html")), rep); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, "index.json"), index); err != nil {
		return err
	}
	return writeIndexHTML(filepath.Join(dir, "index.html"), agent, reps, started)
}

// ErrReport is returned when reports cannot be written.
var ErrReport = errors.New("autobahn: writing reports")

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "   ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	return nil
}

// sortReports orders reports by case id.
func sortReports(reps []*caseReport) {
	sort.Slice(reps, func(i, j int) bool {
		a, b := idTuple(reps[i].ID), idTuple(reps[j].ID)
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	})
}
