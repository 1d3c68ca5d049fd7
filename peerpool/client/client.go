// Package client serves swarmtx's browser client: the player bundle (hls.js
// set up for swarmtx, built from src/ with esbuild, see gen/) and the
// built-in player page at /{path}/.
package client

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
)

//go:generate go run ./gen

//go:embed dist/player.js
var playerJS []byte

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// AssetPrefix is where the client's files are served.
const AssetPrefix = "/_swarmtx/"

// playerVersion names the bundle's content, so its URL can be cached forever.
var playerVersion = func() string {
	sum := sha256.Sum256(playerJS)
	return hex.EncodeToString(sum[:6])
}()

// ScriptURL is the player bundle's URL path, versioned by its content.
func ScriptURL() string { return AssetPrefix + "player.js?v=" + playerVersion }

// Assets serves the files under AssetPrefix.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != AssetPrefix+"player.js" {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Length", strconv.Itoa(len(playerJS)))
		if r.URL.Query().Get("v") == playerVersion {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		if r.Method != http.MethodHead {
			_, _ = w.Write(playerJS)
		}
	})
}

// ServePage writes the built-in player page of the stream at path.
func ServePage(w http.ResponseWriter, r *http.Request, path string) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct{ Path, Script string }{path, ScriptURL()}); err != nil {
		http.Error(w, "player page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
