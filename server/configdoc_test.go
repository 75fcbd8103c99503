package server

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite generated files (docs/configuration.md)")

const configDocPath = "../docs/configuration.md"

const configDocHead = `# Configuration reference

edgews reads one YAML file (` + "`--config`" + `), over built-in defaults; flags and
` + "`EDGEWS_*`" + ` environment variables override a few keys (see ` + "`edgews --help`" + `).
Unknown keys and bad values stop the start with the key named. Sizes take
units (` + "`64KiB`" + `, ` + "`1MiB`" + `), durations Go syntax (` + "`500ms`" + `, ` + "`10s`" + `, ` + "`5m`" + `).

**Reload** says whether a SIGHUP (or the admin API) applies a change without a
restart; route and limit changes apply to sockets opened after the reload.
"Default" is the production default; where dev mode (no config file, or
` + "`dev: true`" + `) differs it says so.

This file is generated from ` + "`server/config.go`" + ` by
` + "`go test ./server -run TestConfigReference -update`" + `; a test fails when
they disagree.
`

// fieldDocs reads the doc comment of every struct field in config.go.
func fieldDocs(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		m := map[string]string{}
		for _, fld := range st.Fields.List {
			for _, name := range fld.Names {
				m[name.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
			}
		}
		docs[ts.Name.Name] = m
		return true
	})
	return docs
}

type docRow struct {
	key, typ, def, dev, reload, doc string
}

func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == byteSizeType:
		return "size"
	case t.Kind() == reflect.Pointer:
		return describeType(t.Elem())
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "list"
	case t.Kind() == reflect.Slice:
		return "list of " + describeType(t.Elem())
	case t.Kind() == reflect.Map:
		return "map of " + describeType(t.Elem())
	case t.Kind() == reflect.Int:
		return "integer"
	}
	return t.Kind().String()
}

func formatValue(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		if x == 0 {
			return "0"
		}
		return x.String()
	case ByteSize:
		return x.String()
	case string:
		if x == "" {
			return `""`
		}
		return fmt.Sprintf("%q", x)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "unset"
		}
		return formatValue(v.Elem())
	case reflect.Slice:
		if v.Len() == 0 {
			return "[]"
		}
		var parts []string
		for i := range v.Len() {
			if v.Index(i).Kind() == reflect.Struct {
				return fmt.Sprintf("%d entries", v.Len())
			}
			parts = append(parts, formatValue(v.Index(i)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		if v.Len() == 0 {
			return "{}"
		}
		return fmt.Sprintf("%d entries", v.Len())
	}
	return fmt.Sprint(v.Interface())
}

// walkConfig lists every key of t with its doc, defaults and reload flag.
func walkConfig(t *testing.T, docs map[string]map[string]string, typ reflect.Type, def, dev reflect.Value, path string, reload bool, rows *[]docRow) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if path != "" {
			key = path + "." + name
		}
		r := reload
		switch f.Tag.Get("reload") {
		case "true":
			r = true
		case "false":
			r = false
		}
		doc := docs[typ.Name()][f.Name]
		if doc == "" {
			t.Errorf("config field %s.%s (%s) has no doc comment", typ.Name(), f.Name, key)
		}
		// "Listen is the address…" reads "`listen` is the address…".
		if rest, ok := strings.CutPrefix(doc, f.Name+" "); ok {
			doc = "`" + name + "` " + rest
		} else if rest, ok := strings.CutPrefix(doc, f.Name+", "); ok {
			doc = "`" + name + "`, " + rest
		}
		var dv, vv reflect.Value
		if def.IsValid() {
			dv, vv = def.Field(i), dev.Field(i)
		}
		ft := f.Type
		sub := ft
		if sub.Kind() == reflect.Pointer {
			sub = sub.Elem()
		}
		switch {
		case sub.Kind() == reflect.Struct && sub != durationType:
			walkConfig(t, docs, sub, dv, vv, key, r, rows)
			continue
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			*rows = append(*rows, row(key, ft, dv, vv, r, doc))
			walkConfig(t, docs, ft.Elem(), reflect.Value{}, reflect.Value{}, key+"[]", r, rows)
			continue
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			*rows = append(*rows, row(key, ft, dv, vv, r, doc))
			walkConfig(t, docs, ft.Elem(), reflect.Value{}, reflect.Value{}, key+".<name>", r, rows)
			continue
		}
		*rows = append(*rows, row(key, ft, dv, vv, r, doc))
	}
}

func row(key string, t reflect.Type, def, dev reflect.Value, reload bool, doc string) docRow {
	r := docRow{key: key, typ: describeType(t), doc: doc, reload: "restart"}
	if reload {
		r.reload = "yes"
	}
	if def.IsValid() {
		r.def = formatValue(def)
		if d := formatValue(dev); d != r.def {
			r.dev = d
		}
	}
	return r
}

func configReference(t *testing.T) string {
	docs := fieldDocs(t)
	var rows []docRow
	def, dev := DefaultConfig(), DevConfig()
	walkConfig(t, docs, reflect.TypeOf(def), reflect.ValueOf(def), reflect.ValueOf(dev), "", false, &rows)
	// Top-level scalars first, under "General"; then one section per block.
	isGeneral := func(r docRow) bool { return !strings.ContainsAny(r.key, ".[") && r.typ != "list" }
	var ordered []docRow
	for _, r := range rows {
		if isGeneral(r) {
			ordered = append(ordered, r)
		}
	}
	for _, r := range rows {
		if !isGeneral(r) {
			ordered = append(ordered, r)
		}
	}
	var b strings.Builder
	b.WriteString(configDocHead)
	section := ""
	for _, r := range ordered {
		top, _, _ := strings.Cut(r.key, ".")
		top, _, _ = strings.Cut(top, "[")
		if isGeneral(r) {
			top = "general"
		}
		if top != section {
			section = top
			title := "`" + top + "`"
			if top == "general" {
				title = "General"
			}
			fmt.Fprintf(&b, "\n## %s\n\n| key | type | default | reload | meaning |\n| --- | --- | --- | --- | --- |\n", title)
		}
		def := r.def
		if def == "" {
			def = "—"
		}
		if r.dev != "" {
			def += " (dev: " + r.dev + ")"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.key, r.typ, strings.ReplaceAll(def, "|", "\\|"), r.reload, strings.ReplaceAll(r.doc, "|", "\\|"))
	}
	return b.String()
}

// TestConfigReference keeps docs/configuration.md equal to what the config
// structs say.
func TestConfigReference(t *testing.T) {
	want := configReference(t)
	if *update {
		if err := os.WriteFile(configDocPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(configDocPath)
	if err != nil || string(got) != want {
		t.Fatalf("docs/configuration.md is out of date with server/config.go: run `go test ./server -run TestConfigReference -update`")
	}
}
