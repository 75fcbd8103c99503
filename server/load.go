package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("config")

// LoadConfig reads a YAML config file over DefaultConfig (or DevConfig when
// the file sets dev: true). Unknown keys are errors that name the key with
// its path (for example "routes[1].compresion"). The result is not yet
// validated; call Validate.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig is LoadConfig for bytes.
func ParseConfig(data []byte) (Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg := DefaultConfig()
	if len(root.Content) == 0 {
		return cfg, nil // empty file
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("%w: the top level must be a mapping of keys", ErrConfig)
	}
	if err := checkKeys(doc, reflect.TypeOf(cfg), ""); err != nil {
		return Config{}, err
	}
	// Dev mode changes the defaults the file is read over.
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "dev" && doc.Content[i+1].Value == "true" {
			cfg = DevConfig()
			cfg.Routes = nil // a file with routes replaces the dev routes
			if !hasKey(doc, "routes") {
				cfg.Routes = DevConfig().Routes
			}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %s", ErrConfig, cleanYAMLError(err))
	}
	return cfg, nil
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

// cleanYAMLError turns yaml.v3's type errors into "line N: key: problem".
func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n  ")
	s = strings.ReplaceAll(s, "\n  ", "; ")
	return s
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkKeys walks a YAML node against a Go type and reports the first key
// that does not exist, with its full path.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if err := checkScalar(n, t, path); err != nil {
		return err
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == durationType {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("%w: %s (line %d): expected a mapping of keys", ErrConfig, orTop(path), n.Line)
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				return fmt.Errorf("%w: unknown key %q (line %d)%s", ErrConfig, join(path, key), n.Content[i].Line, suggest(key, fields))
			}
			if err := checkKeys(n.Content[i+1], ft, join(path, key)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := checkKeys(n.Content[i+1], t.Elem(), fmt.Sprintf("%s[%s]", path, n.Content[i].Value)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var byteSizeType = reflect.TypeOf(ByteSize(0))

// checkScalar checks a scalar value against the Go type it will be decoded
// into, so a bad value is reported with its key.
func checkScalar(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return nil
	}
	v := n.Value
	bad := func(what, examples string) error {
		return fmt.Errorf("%w: %s (line %d): %q is not %s (examples: %s)", ErrConfig, orTop(path), n.Line, v, what, examples)
	}
	switch {
	case t == durationType:
		if _, err := time.ParseDuration(v); err != nil {
			return bad("a duration", "500ms, 10s, 5m")
		}
	case t == byteSizeType:
		if _, err := ParseByteSize(v); err != nil {
			return bad("a size", "65536, 64KiB, 1MiB")
		}
	case t.Kind() == reflect.Bool:
		var b bool
		if err := n.Decode(&b); err != nil {
			return bad("a boolean", "true, false")
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		var i int64
		if err := n.Decode(&i); err != nil {
			return bad("an integer", "0, 100")
		}
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return fmt.Errorf("%w: %s (line %d): expected a mapping of keys, got %q", ErrConfig, orTop(path), n.Line, v)
	case t.Kind() == reflect.Slice:
		return fmt.Errorf("%w: %s (line %d): expected a list, got %q", ErrConfig, orTop(path), n.Line, v)
	}
	return nil
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest names a known key that differs from key by case, "-" vs "_", or
// an edit distance of at most 2.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	norm := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	for f := range fields {
		if f == norm {
			return fmt.Sprintf("; did you mean %q?", f)
		}
		if d := editDistance(norm, f); d < bestD || (d == bestD && f < best) {
			best, bestD = f, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
