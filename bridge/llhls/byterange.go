package llhls

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A viewer that gave up waiting for a part from the swarm may already hold
// its first bytes, verified, from a neighbour; it asks for the rest with a
// Range header, and the origin sends only those bytes. One range is served
// per request: a player never needs more of a part or a segment.

// ByteRange is the bytes [Start, End) of a resource to serve.
type ByteRange struct{ Start, End int }

// errUnsatisfiable is a range that lies past the end of the resource.
var errUnsatisfiable = errors.New("the range starts past the end")

// ParseByteRange reads a Range header against a resource of size bytes.
// It returns ok false when the whole resource is to be served: no header,
// or a range unit other than bytes, which RFC 9110 says to ignore. A header
// that cannot be served (bad syntax, several ranges, a range past the end)
// is an error naming what was wrong.
func ParseByteRange(header string, size int) (r ByteRange, ok bool, err error) {
	if header == "" {
		return ByteRange{}, false, nil
	}
	spec, isBytes := strings.CutPrefix(header, "bytes=")
	if !isBytes {
		return ByteRange{}, false, nil
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return ByteRange{}, false, fmt.Errorf("range %q: only one byte range is served", header)
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return ByteRange{}, false, fmt.Errorf("range %q: no '-' in the byte range", header)
	}
	if first == "" { // the last n bytes
		n, err := rangeNumber(last)
		if err != nil {
			return ByteRange{}, false, fmt.Errorf("range %q: suffix length: %w", header, err)
		}
		if n == 0 || size == 0 {
			return ByteRange{}, false, fmt.Errorf("range %q: %w (%d bytes)", header, errUnsatisfiable, size)
		}
		return ByteRange{Start: max(size-n, 0), End: size}, true, nil
	}
	start, err := rangeNumber(first)
	if err != nil {
		return ByteRange{}, false, fmt.Errorf("range %q: first byte: %w", header, err)
	}
	end := size
	if last != "" {
		l, err := rangeNumber(last)
		if err != nil {
			return ByteRange{}, false, fmt.Errorf("range %q: last byte: %w", header, err)
		}
		if l < start {
			return ByteRange{}, false, fmt.Errorf("range %q: the last byte is before the first", header)
		}
		end = min(l+1, size)
	}
	if start >= size {
		return ByteRange{}, false, fmt.Errorf("range %q: %w (%d bytes)", header, errUnsatisfiable, size)
	}
	return ByteRange{Start: start, End: end}, true, nil
}

// rangeNumber is a byte position: digits only, small enough for an int.
func rangeNumber(s string) (int, error) {
	if s == "" || len(s) > 15 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a byte position", s)
	}
	return strconv.Atoi(s)
}
