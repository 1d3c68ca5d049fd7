package client

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evanw/esbuild/pkg/api"
)

// runNodeCheck bundles script with the client sources for Node and runs it
// on cases (one JSON object per line in a file it is given).
func runNodeCheck[C any](t *testing.T, node, script string, cases []C) {
	t.Helper()
	dir := t.TempDir()
	var lines strings.Builder
	for _, c := range cases {
		j, _ := json.Marshal(c)
		lines.Write(j)
		lines.WriteByte('\n')
	}
	casesPath := filepath.Join(dir, "cases.jsonl")
	if err := os.WriteFile(casesPath, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "check.mjs")
	wd, _ := os.Getwd()
	res := api.Build(api.BuildOptions{
		AbsWorkingDir: wd,
		EntryPoints:   []string{script},
		Bundle:        true,
		Platform:      api.PlatformNode,
		Format:        api.FormatESModule,
		Outfile:       out,
		Write:         true,
		LogLevel:      api.LogLevelWarning,
	})
	if len(res.Errors) > 0 {
		t.Fatalf("esbuild: %s", res.Errors[0].Text)
	}
	got, err := exec.Command(node, out, casesPath).CombinedOutput()
	t.Logf("node: %s", strings.TrimSpace(string(got)))
	if err != nil {
		t.Fatalf("%s: the JS side disagrees with Go: %v", script, err)
	}
}

// nodeBinary is the path of Node.js, which the browser client's checks
// run in; make deps installs it.
func nodeBinary(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	return node
}
