package llhls_test

import (
	"testing"

	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// FuzzRenditionNamesAgree: the peer protocol names parts by the origin's
// paths, so it accepts exactly the rendition names the origin serves.
func FuzzRenditionNamesAgree(f *testing.F) {
	for _, n := range []string{"source", "720p", "index", "", "a", "A", "a/b", "été", "0123456789abcdefghijklmnopqrstuv", "0123456789abcdefghijklmnopqrstuvw"} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n string) {
		origin := llhls.ValidRenditionName(n) == nil
		peer := wire.PartID{Rendition: n}.Validate() == nil
		if origin != peer {
			t.Errorf("rendition name %q: origin accepts %v, peer protocol %v", n, origin, peer)
		}
	})
}
