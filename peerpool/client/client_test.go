package client

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/client/internal/bundler"
)

// TestBundleIsUpToDate rebuilds the bundle from src/ and compares it with
// the committed one, so a change to the sources cannot ship without it.
func TestBundleIsUpToDate(t *testing.T) {
	if _, err := os.Stat("node_modules/hls.js/package.json"); err != nil {
		t.Fatal("node_modules/hls.js is missing: run `make deps` (npm ci in peerpool/client)")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "player.js")
	if err := bundler.Player(dir, out); err != nil {
		t.Fatal(err)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, playerJS) {
		t.Fatal("dist/player.js is stale: run `go generate ./peerpool/client` and commit it")
	}
}

func TestPageEscapesPathAndVersionsScript(t *testing.T) {
	rec := httptest.NewRecorder()
	ServePage(rec, httptest.NewRequest("GET", "/live/show/", nil), `live/<b>`)
	body := rec.Body.String()
	if strings.Contains(body, "<b>") || !strings.Contains(body, "live/&lt;b&gt;") {
		t.Errorf("path not escaped:\n%s", body)
	}
	if !strings.Contains(body, ScriptURL()) {
		t.Errorf("page does not load %s", ScriptURL())
	}
	rec = httptest.NewRecorder()
	Assets().ServeHTTP(rec, httptest.NewRequest("GET", ScriptURL(), nil))
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || rec.Body.Len() != len(playerJS) {
		t.Errorf("bundle: %d %q %d bytes", rec.Code, rec.Header().Get("Cache-Control"), rec.Body.Len())
	}
}
