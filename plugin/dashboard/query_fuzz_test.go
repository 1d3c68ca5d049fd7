package dashboard

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseStreamQuery: any query either names a stream within the bounds
// or is refused with a reason; nothing panics.
func FuzzParseStreamQuery(f *testing.F) {
	for _, s := range []string{
		"path=live/show", "path=live%2Fshow&since=12&nodes=50", "path=a&since=-1", "path=a&nodes=0",
		"path=a&nodes=2001", "since=3", "path=%zz", "path=a;b", "path=a&path=b&jwt=x.y.z", "path=" + strings.Repeat("a", 1100),
		"path=a&since=99999999999999999999", "path=\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseStreamQuery(raw)
		if err != nil {
			if err.Error() == "" {
				t.Error("refused without a reason")
			}
			return
		}
		if q.path == "" || len(q.path) > maxPathLen || !utf8.ValidString(q.path) || q.since < 0 || q.nodes < 1 || q.nodes > MaxNodes {
			t.Errorf("%q accepted as %+v", raw, q)
		}
	})
}
