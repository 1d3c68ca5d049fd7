package wire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	s := "a" + strings.Repeat("é€😀", 40)
	for n := -1; n <= len(s)+1; n++ {
		got := Truncate(s, n)
		if len(got) > max(n, 0) || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
			t.Fatalf("Truncate(%d) = %q", n, got)
		}
		if rest := s[len(got):]; rest != "" {
			if _, size := utf8.DecodeRuneInString(rest); len(got)+size <= n {
				t.Fatalf("Truncate(%d) = %d bytes: a whole character short", n, len(got))
			}
		}
	}
	if got := Truncate("ok\xff\xfe then", 40); got != "ok then" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}
