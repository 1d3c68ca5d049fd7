package origin

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/swarmtx/swarmtx/plugin/access"
)

// signedURLWindow is how long every viewer of a stream gets the same media
// signature (so a CDN caches each part once), and about how long a viewer
// that stopped reloading its playlist may keep fetching with it.
const signedURLWindow = 5 * 60 // seconds

// signingWriter holds a protected stream's media playlist back until it is
// complete, to add the stream's signature to every media URI in it.
type signingWriter struct{ heldWriter }

// finish sends the response, its media URIs signed with sig.
func (s *signingWriter) finish(sig string) {
	s.WriteHeader(http.StatusOK)
	out := s.body.Bytes()
	if s.code == http.StatusOK && len(out) > 0 && strings.HasPrefix(s.Header().Get("Content-Type"), "application/vnd.apple.mpegurl") {
		out = signPlaylist(out, sig)
		s.Header().Set("Content-Length", strconv.Itoa(len(out)))
	}
	s.send(out)
}

// uriTags are the media playlist tags whose URI attribute names media (a
// rendition report's URI is a playlist, asked for with credentials).
var uriTags = []string{"#EXT-X-MAP:", "#EXT-X-PART:", "#EXT-X-PRELOAD-HINT:"}

// signPlaylist adds sig to every media URI of a media playlist: segment
// lines and the URI attributes of uriTags.
func signPlaylist(body []byte, sig string) []byte {
	var out bytes.Buffer
	out.Grow(len(body) + 64*bytes.Count(body, []byte("\n")))
	for _, line := range strings.SplitAfter(string(body), "\n") {
		text, nl := strings.CutSuffix(line, "\n")
		switch {
		case text == "":
		case !strings.HasPrefix(text, "#"):
			text = withSig(text, sig)
		default:
			for _, tag := range uriTags {
				if !strings.HasPrefix(text, tag) {
					continue
				}
				if i := strings.Index(text, `URI="`); i >= 0 {
					start := i + len(`URI="`)
					if end := strings.IndexByte(text[start:], '"'); end >= 0 {
						text = text[:start] + withSig(text[start:start+end], sig) + text[start+end:]
					}
				}
			}
		}
		out.WriteString(text)
		if nl {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func withSig(uri, sig string) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + access.SignedURLParam + "=" + sig
}
