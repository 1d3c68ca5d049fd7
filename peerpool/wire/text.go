package wire

import (
	"strings"
	"unicode/utf8"
)

// Truncate cuts s to at most n bytes without splitting a character, and
// drops any invalid UTF-8, so the result is always valid UTF-8 of at most
// n bytes. Close reasons and error texts need it: a WebSocket close reason
// must be valid UTF-8 of at most 123 bytes, and a JSON encoder turns a
// split character into a 3-byte U+FFFD, which can push an "error" reason
// over its 256 bytes.
func Truncate(s string, n int) string {
	if len(s) > n {
		n = max(n, 0)
		for k := 0; k < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); k++ {
			n--
		}
		s = s[:n]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	return s
}
