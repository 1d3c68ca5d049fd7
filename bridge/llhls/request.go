package llhls

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Kind is what an HLS request asks for.
type Kind int

// Request kinds.
const (
	KindMultivariant Kind = iota + 1
	KindMediaPlaylist
	KindInit
	KindSegment
	KindPart
)

// Request is a parsed HLS URL: /{stream}/index.m3u8, /{stream}/{rendition}.m3u8,
// /{stream}/{rendition}/init{id}.mp4, .../seg{msn}.m4s, .../part{msn}.{index}.m4s.
type Request struct {
	Kind      Kind
	Stream    string
	Rendition string
	ID        uint64 // init id or media sequence number
	Part      int
}

// maxURLPath bounds the URL paths worth parsing; MediaMTX paths are short.
const maxURLPath = 1024

// ParseRequestPath parses an untrusted URL path. It never touches the file system.
func ParseRequestPath(p string) (Request, error) {
	if len(p) > maxURLPath {
		return Request{}, fmt.Errorf("URL path is %d bytes, longer than %d", len(p), maxURLPath)
	}
	p = strings.TrimPrefix(p, "/")
	dir, file, ok := cutLast(p, "/")
	if !ok || dir == "" || file == "" {
		return Request{}, fmt.Errorf("URL path %q names no stream file", p)
	}
	if strings.HasSuffix(file, ".m3u8") {
		if err := ValidStreamPath(dir); err != nil {
			return Request{}, err
		}
		name := strings.TrimSuffix(file, ".m3u8")
		if name == "index" {
			return Request{Kind: KindMultivariant, Stream: dir}, nil
		}
		if err := ValidRenditionName(name); err != nil {
			return Request{}, err
		}
		return Request{Kind: KindMediaPlaylist, Stream: dir, Rendition: name}, nil
	}
	stream, rend, ok := cutLast(dir, "/")
	if !ok {
		return Request{}, fmt.Errorf("URL path %q has no rendition folder", p)
	}
	if err := ValidStreamPath(stream); err != nil {
		return Request{}, err
	}
	if err := ValidRenditionName(rend); err != nil {
		return Request{}, err
	}
	req := Request{Stream: stream, Rendition: rend}
	var err error
	switch {
	case strings.HasPrefix(file, "init") && strings.HasSuffix(file, ".mp4"):
		req.Kind = KindInit
		req.ID, err = parseUint(strings.TrimSuffix(strings.TrimPrefix(file, "init"), ".mp4"))
	case strings.HasPrefix(file, "seg") && strings.HasSuffix(file, ".m4s"):
		req.Kind = KindSegment
		req.ID, err = parseUint(strings.TrimSuffix(strings.TrimPrefix(file, "seg"), ".m4s"))
	case strings.HasPrefix(file, "part") && strings.HasSuffix(file, ".m4s"):
		req.Kind = KindPart
		msn, idx, found := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(file, "part"), ".m4s"), ".")
		if !found {
			return Request{}, fmt.Errorf("part file %q is not part<msn>.<index>.m4s", file)
		}
		if req.ID, err = parseUint(msn); err == nil {
			var n uint64
			n, err = parseUint(idx)
			if err == nil && n > 1000 {
				err = fmt.Errorf("part index %d is too large", n)
			}
			req.Part = int(n)
		}
	default:
		return Request{}, fmt.Errorf("file %q is not a playlist, init, segment or part", file)
	}
	if err != nil {
		return Request{}, fmt.Errorf("file %q: %w", file, err)
	}
	return req, nil
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}

func parseUint(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return strconv.ParseUint(s, 10, 64)
}

// ValidStreamPath checks a MediaMTX path name: the characters MediaMTX
// allows, no empty or dot-dot elements.
func ValidStreamPath(p string) error {
	if p == "" || len(p) > 256 {
		return fmt.Errorf("stream path %q must be 1 to 256 bytes", p)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-./~", c)) {
			return fmt.Errorf("stream path %q has the character %q, which MediaMTX does not allow", p, c)
		}
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("stream path %q has an empty, '.' or '..' element", p)
		}
	}
	return nil
}

// ValidRenditionName checks a rendition name: lower-case letters and digits.
func ValidRenditionName(n string) error {
	if n == "" || len(n) > 32 || n == "index" {
		return fmt.Errorf("rendition name %q is empty, too long or reserved", n)
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("rendition name %q may have only a-z and 0-9", n)
		}
	}
	return nil
}

// BlockingQuery is a parsed LL-HLS delivery directive.
type BlockingQuery struct {
	Blocking bool
	MSN      uint64
	Part     int // -1 when absent
}

var errPartWithoutMSN = errors.New("_HLS_part given without _HLS_msn")

// ParseBlockingQuery reads _HLS_msn and _HLS_part from an untrusted query.
func ParseBlockingQuery(q url.Values) (BlockingQuery, error) {
	bq := BlockingQuery{Part: -1}
	msn, hasMSN := q["_HLS_msn"]
	part, hasPart := q["_HLS_part"]
	if hasPart && !hasMSN {
		return bq, errPartWithoutMSN
	}
	if !hasMSN {
		return bq, nil
	}
	if len(msn) != 1 {
		return bq, errors.New("_HLS_msn given more than once")
	}
	n, err := parseUint(msn[0])
	if err != nil {
		return bq, fmt.Errorf("_HLS_msn: %w", err)
	}
	bq.Blocking, bq.MSN = true, n
	if hasPart {
		if len(part) != 1 {
			return bq, errors.New("_HLS_part given more than once")
		}
		p, err := parseUint(part[0])
		if err != nil || p > 1000 {
			return bq, fmt.Errorf("_HLS_part %q is not a part index", part[0])
		}
		bq.Part = int(p)
	}
	return bq, nil
}
