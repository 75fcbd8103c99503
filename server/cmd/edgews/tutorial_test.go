package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTranscoderTutorial executes docs/writing-a-transcoder.md: every
// "<!-- file: NAME -->" code block is written and every "<!-- run -->"
// block is run with sh, in document order, in an empty folder.
func TestTranscoderTutorial(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../../..")
	doc, err := os.ReadFile(filepath.Join(root, "docs/writing-a-transcoder.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	block := regexp.MustCompile("(?s)<!-- (file: ([^ ]+)|run) -->\n```[a-z]*\n(.*?)```")
	matches := block.FindAllStringSubmatch(string(doc), -1)
	if len(matches) < 5 {
		t.Fatalf("found %d marked blocks", len(matches))
	}
	env := append(os.Environ(),
		"EDGEWS="+root,
		"PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GOFLAGS=-mod=mod",
	)
	var ran []string
	for _, m := range matches {
		if m[2] != "" {
			if err := os.WriteFile(filepath.Join(dir, m[2]), []byte(m[3]), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(m[3]), "\n") {
			cmd := exec.Command("sh", "-c", line)
			cmd.Dir = dir
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
			ran = append(ran, line)
			if strings.HasPrefix(line, "edgews transcoder validate") {
				if !strings.Contains(string(out), `-> listener text "HELLO"`) || !strings.HasSuffix(strings.TrimSpace(string(out)), "valid") {
					t.Fatalf("validate output:\n%s", out)
				}
			}
		}
	}
	t.Logf("ran %d commands: %q", len(ran), ran)
}
