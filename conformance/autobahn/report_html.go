package autobahn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"strings"
	"time"
)

const reportCSS = `
body { font-family: sans-serif; background: #f4f4f4; color: #333; margin: 2em; }
h1 { font-size: 1.5em; }
table { border-collapse: collapse; }
td, th { padding: 3px 8px; border: 1px solid #ccc; font-size: 0.9em; }
tr.cat td { background: #555; color: #fff; font-weight: bold; }
tr.sub td { background: #ddd; font-style: italic; }
.OK { background: #0a0; color: #fff; }
.NON-STRICT { background: #9c0; color: #fff; }
.INFORMATIONAL { background: #69c; color: #fff; }
.UNIMPLEMENTED { background: #999; color: #fff; }
.FAILED, .UNCLEAN { background: #d00; color: #fff; }
.WRONG.CODE { background: #c90; color: #fff; }
.FAILED.BY.CLIENT { background: #e70; color: #fff; }
td a { color: inherit; }
pre { background: #fff; padding: 0.5em; border: 1px solid #ccc; overflow-x: auto; }
dl.legend dt { display: inline-block; width: 9em; padding: 2px 6px; margin: 2px 0; }
dl.legend dd { display: inline; margin: 0 0 0 1em; }
dl.legend dd::after { content: ""; display: block; }
`

var indexTmpl = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>WebSocket conformance: {{.Agent}}</title>
<style>{{.CSS}}</style></head>
<body>
<h1>WebSocket conformance report for {{.Agent}}</h1>
<p>{{.Count}} cases run {{.Started}} by wsconform, a Go re-implementation of the Autobahn|Testsuite fuzzing client. Totals: {{range .Totals}}{{.}} {{end}}</p>
<dl class="legend">
<dt class="OK">OK</dt><dd>The server behaved as the case requires.</dd>
<dt class="NON-STRICT">NON-STRICT</dt><dd>Conformant, but not the preferred (SHOULD) behaviour.</dd>
<dt class="INFORMATIONAL">INFORMATIONAL</dt><dd>The RFC leaves the behaviour open; recorded for information.</dd>
<dt class="UNIMPLEMENTED">UNIMPLEMENTED</dt><dd>The server does not offer the feature tested (permessage-deflate).</dd>
<dt class="FAILED">FAILED</dt><dd>The server broke a MUST of the RFC (or a limit of the case).</dd>
</dl>
<table>
{{range .Rows}}{{if .Category}}<tr class="cat"><td colspan="3">{{.Category}}</td></tr>
{{else if .Sub}}<tr class="sub"><td colspan="3">{{.Sub}}</td></tr>
{{else}}<tr><td><a href="#case_{{.Anchor}}">Case {{.ID}}</a></td><td class="{{.Behavior}}"><a href="{{.HTML}}">{{.Behavior}}</a>{{if .Detail}}<br><small>{{.Detail}}</small>{{end}} <small>(<a href="{{.JSON}}">json</a>)</small></td><td class="{{.BehaviorClose}}">{{.CloseText}}</td></tr>
{{end}}{{end}}</table>
<h2>Case descriptions</h2>
{{range .Rows}}{{if .ID}}<h3 id="case_{{.Anchor}}">Case {{.ID}}</h3>
<p><b>Description:</b> {{.Desc}}</p>
<p><b>Expectation:</b> {{.Expect}}</p>
{{end}}{{end}}
</body></html>
`))

type indexRow struct {
	Category, Sub                 string
	ID, Anchor                    string
	Behavior, BehaviorClose       string
	CloseText, Detail, HTML, JSON string
	Desc, Expect                  string
}

func writeIndexHTML(path, agent string, reps []*caseReport, started time.Time) error {
	reg := registry()
	counts := map[string]int{}
	var rows []indexRow
	lastCat, lastSub := "", ""
	for _, rep := range reps {
		counts[rep.Behavior]++
		parts := strings.Split(rep.ID, ".")
		cat := parts[0]
		sub := strings.Join(parts[:min(2, len(parts))], ".")
		if cat != lastCat {
			rows = append(rows, indexRow{Category: cat + " " + reg.categories[cat]})
			lastCat, lastSub = cat, ""
		}
		if sub != lastSub && len(parts) > 2 {
			rows = append(rows, indexRow{Sub: sub + " " + reg.subcategories[sub]})
		}
		lastSub = sub
		closeText := rep.BehaviorClose
		if rep.RemoteCloseCode != nil {
			closeText = fmt.Sprintf("%s (%d)", rep.BehaviorClose, *rep.RemoteCloseCode)
		}
		detail := ""
		if rep.ReportTime {
			detail = fmt.Sprintf("%d ms", rep.Duration)
		}
		if rep.ReportCompressionRatio && rep.TrafficStats != nil {
			detail += fmt.Sprintf(" [%s/%s]", fmtRatio(rep.TrafficStats["incomingCompressionRatio"]), fmtRatio(rep.TrafficStats["outgoingCompressionRatio"]))
		}
		spec := reg.byID[rep.ID]
		rows = append(rows, indexRow{
			ID: rep.ID, Anchor: strings.ReplaceAll(rep.ID, ".", "_"),
			Behavior: rep.Behavior, BehaviorClose: rep.BehaviorClose,
			CloseText: closeText, Detail: detail,
			HTML: reportFileName(agent, rep.ID, "html"), JSON: reportFileName(agent, rep.ID, "json"),
			Desc: spec.desc, Expect: spec.expect,
		})
	}
	var totals []string
	for _, v := range []string{OK, NonStrict, Informational, Unimplemented, Failed} {
		totals = append(totals, fmt.Sprintf("%s=%d", v, counts[v]))
	}
	var buf bytes.Buffer
	err := indexTmpl.Execute(&buf, map[string]any{
		"Agent": agent, "CSS": template.CSS(reportCSS), "Count": len(reps),
		"Started": started.UTC().Format(time.RFC3339), "Totals": totals, "Rows": rows,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	return nil
}

func fmtRatio(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.3f", f)
	}
	return "-"
}

var caseTmpl = template.Must(template.New("case").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Case {{.R.ID}}: {{.R.Behavior}}</title>
<style>{{.CSS}}</style></head>
<body>
<p><a href="index.html">Back to the summary</a></p>
<h1>Case {{.R.ID}} <span class="{{.R.Behavior}}">&nbsp;{{.R.Behavior}}&nbsp;</span> close: <span class="{{.R.BehaviorClose}}">&nbsp;{{.R.BehaviorClose}}&nbsp;</span></h1>
<p>{{.R.Agent}}, {{.R.Duration}} ms, started {{.R.Started}}</p>
<p><b>Description:</b> {{.R.Description}}</p>
<p><b>Expectation:</b> {{.R.Expectation}}</p>
<p><b>Outcome:</b> {{.R.Result}}</p>
<p><b>Expected:</b></p><pre>{{.Expected}}</pre>
<p><b>Observed:</b></p><pre>{{.Received}}</pre>
<p><b>Closing behaviour:</b> {{.R.ResultClose}} ({{.R.BehaviorClose}})</p>
{{if .R.RunnerNote}}<p><b>Runner note:</b> {{.R.RunnerNote}}</p>{{end}}
<h2>Opening handshake</h2>
<pre>{{.R.HTTPRequest}}</pre>
<pre>{{.R.HTTPResponse}}</pre>
<h2>Closing details</h2>
<pre>{{.Closing}}</pre>
<h2>Wire log</h2>
<pre>{{range .Wirelog}}{{.}}
{{end}}</pre>
</body></html>
`))

func writeCaseHTML(path string, rep *caseReport) error {
	closing, _ := json.MarshalIndent(map[string]any{
		"closedByMe": rep.ClosedByMe, "failedByMe": rep.FailedByMe, "droppedByMe": rep.DroppedByMe,
		"wasClean": rep.WasClean, "wasNotCleanReason": rep.WasNotCleanReason,
		"wasServerConnectionDropTimeout": rep.WasServerConnectionDropTimeout,
		"wasOpenHandshakeTimeout":        rep.WasOpenHandshakeTimeout,
		"wasCloseHandshakeTimeout":       rep.WasCloseHandshakeTimeout,
		"localCloseCode":                 rep.LocalCloseCode, "localCloseReason": rep.LocalCloseReason,
		"remoteCloseCode": rep.RemoteCloseCode, "remoteCloseReason": rep.RemoteCloseReason,
	}, "", "  ")
	expected, _ := json.Marshal(rep.Expected)
	received, _ := json.Marshal(rep.Received)
	var wl []string
	for i, row := range rep.Wirelog {
		b, _ := json.Marshal(row)
		wl = append(wl, fmt.Sprintf("%03d %s", i, b))
	}
	var buf bytes.Buffer
	err := caseTmpl.Execute(&buf, map[string]any{
		"R": rep, "CSS": template.CSS(reportCSS), "Closing": string(closing),
		"Expected": limitString(string(expected), 1000), "Received": limitString(string(received), 1000),
		"Wirelog": wl,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrReport, err)
	}
	return nil
}

func limitString(s string, n int) string {
	if len(s) > n-4 {
		return s[:n-4] + " ..."
	}
	return s
}
