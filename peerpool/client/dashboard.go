package client

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
)

// The operator's dashboard page: its script (src/dashboard/, bundled into
// dist/dashboard.js by the same generator as the player) is written into
// the page itself, so the page is one response, guarded as the origin
// guards it, and needs nothing from anywhere else.

//go:embed dist/dashboard.js
var dashboardJS string

//go:embed dashboard.html
var dashboardHTML string

var dashboardTemplate = template.Must(template.New("dashboard").Parse(dashboardHTML))

// dashboardPage is rendered once: it has no per-request part.
var dashboardPage = func() []byte {
	var buf bytes.Buffer
	// The bundle is the repository's own code, built by esbuild, which
	// escapes "</script" in what it writes.
	if err := dashboardTemplate.Execute(&buf, struct{ Script template.JS }{template.JS(dashboardJS)}); err != nil {
		panic("dashboard page: " + err.Error())
	}
	return buf.Bytes()
}()

// ServeDashboard writes the dashboard page.
func ServeDashboard(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Length", strconv.Itoa(len(dashboardPage)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(dashboardPage)
	}
}
