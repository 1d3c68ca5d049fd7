package origin

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

const unsignedPlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="source/init1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-30T03:00:00.000Z
#EXT-X-PART:DURATION=0.50000,URI="source/part7.0.m4s",INDEPENDENT=YES
#EXTINF:2.00000,
source/seg7.m4s
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="source/part8.0.m4s"
#EXT-X-RENDITION-REPORT:URI="480p.m3u8",LAST-MSN=7,LAST-PART=3
`

const signedPlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="source/init1.mp4?sig=S"
#EXT-X-PROGRAM-DATE-TIME:2026-11-30T03:00:00.000Z
#EXT-X-PART:DURATION=0.50000,URI="source/part7.0.m4s?sig=S",INDEPENDENT=YES
#EXTINF:2.00000,
source/seg7.m4s?sig=S
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="source/part8.0.m4s?sig=S"
#EXT-X-RENDITION-REPORT:URI="480p.m3u8",LAST-MSN=7,LAST-PART=3
`

func TestSignPlaylist(t *testing.T) {
	if got := string(signPlaylist([]byte(unsignedPlaylist), "S")); got != signedPlaylist {
		t.Errorf("signed playlist:\n%s\nwant:\n%s", got, signedPlaylist)
	}
	if got := withSig("a.m4s?x=1", "S"); got != "a.m4s?x=1&sig=S" {
		t.Errorf("a URI with a query became %q", got)
	}
}

func TestSigningWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &signingWriter{heldWriter{ResponseWriter: rec}}
	sw.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	sw.Header().Set("Content-Length", "999")
	sw.Write([]byte(unsignedPlaylist))
	sw.finish("S")
	if rec.Code != http.StatusOK || rec.Body.String() != signedPlaylist || rec.Header().Get("Content-Length") != strconv.Itoa(len(signedPlaylist)) {
		t.Errorf("%d, Content-Length %s, body:\n%s", rec.Code, rec.Header().Get("Content-Length"), rec.Body.String())
	}
	// An error passes through as it was.
	rec = httptest.NewRecorder()
	sw = &signingWriter{heldWriter{ResponseWriter: rec}}
	sw.Header().Set("Content-Type", "text/plain")
	sw.WriteHeader(http.StatusServiceUnavailable)
	sw.Write([]byte("no media yet"))
	sw.finish("S")
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "no media yet" {
		t.Errorf("error response became %d %q", rec.Code, rec.Body.String())
	}
}
