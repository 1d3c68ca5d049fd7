// Command gen bundles the browser client, so the bundle can be committed and
// embedded and `go build` needs no Node.js. Run it with
// `go generate ./peerpool/client` after `npm ci` in peerpool/client.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/swarmtx/swarmtx/peerpool/client/internal/bundler"
)

func main() {
	dir, err := os.Getwd()
	if err == nil {
		err = bundler.Player(dir, filepath.Join(dir, "dist", "player.js"))
	}
	if err == nil {
		err = bundler.Dashboard(dir, filepath.Join(dir, "dist", "dashboard.js"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
