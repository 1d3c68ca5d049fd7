// Package bundler builds the browser client with esbuild's Go API. It is
// used by `go generate` (../../gen) and by the test that keeps the
// committed bundle in step with the sources; the swarmtx binary never links it.
package bundler

import (
	"fmt"

	"github.com/evanw/esbuild/pkg/api"
)

// Player bundles src/entry.js (with hls.js from node_modules) into out.
// dir is the client's folder (peerpool/client).
func Player(dir, out string) error { return build(dir, "src/entry.js", out) }

// Dashboard bundles the operator's dashboard, src/dashboard/main.js, into
// out.
func Dashboard(dir, out string) error { return build(dir, "src/dashboard/main.js", out) }

func build(dir, entry, out string) error {
	res := api.Build(api.BuildOptions{
		AbsWorkingDir:     dir,
		EntryPoints:       []string{entry},
		Bundle:            true,
		MinifyWhitespace:  true,
		MinifySyntax:      true,
		MinifyIdentifiers: true,
		Format:            api.FormatIIFE,
		Target:            api.ES2020,
		Outfile:           out,
		Write:             true,
		LegalComments:     api.LegalCommentsEndOfFile,
		LogLevel:          api.LogLevelWarning,
	})
	if len(res.Errors) > 0 {
		return fmt.Errorf("esbuild: %s", res.Errors[0].Text)
	}
	return nil
}
