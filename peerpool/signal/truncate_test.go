package signal

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTruncateKeepsUTF8: close reasons are cut to their limit without
// splitting a character: a WebSocket close reason must be valid UTF-8, and
// a JSON encoder would turn a split one into a 3-byte U+FFFD, pushing an
// "error" reason over its 256 bytes.
func TestTruncateKeepsUTF8(t *testing.T) {
	reason := "stream ended: " + strings.Repeat("é€😀", 60)
	for n := 0; n <= len(reason)+1; n++ {
		got := truncate(reason, n)
		if len(got) > n || !utf8.ValidString(got) || !strings.HasPrefix(reason, got) {
			t.Fatalf("truncate to %d bytes: %q (%d bytes)", n, got, len(got))
		}
		if rest := reason[len(got):]; rest != "" {
			if _, size := utf8.DecodeRuneInString(rest); len(got)+size <= n {
				t.Fatalf("truncate to %d bytes cut %d, a whole character short", n, len(got))
			}
		}
	}
}
