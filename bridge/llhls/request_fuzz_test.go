package llhls

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzParseRequestPath(f *testing.F) {
	for _, s := range []string{"/live/show/index.m3u8", "/live/show/360p.m3u8", "/a/b/source/part12.3.m4s",
		"/a/source/seg9.m4s", "/a/source/init0.mp4", "/../../etc/passwd", "//", "/a//b/index.m3u8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, err := ParseRequestPath(p)
		if err != nil {
			return
		}
		if ValidStreamPath(req.Stream) != nil || strings.Contains(req.Stream, "..") {
			t.Fatalf("accepted bad stream path %q from %q", req.Stream, p)
		}
		if req.Kind != KindMultivariant && ValidRenditionName(req.Rendition) != nil {
			t.Fatalf("accepted bad rendition %q from %q", req.Rendition, p)
		}
	})
}

func FuzzParseBlockingQuery(f *testing.F) {
	for _, s := range []string{"_HLS_msn=3&_HLS_part=1", "_HLS_msn=18446744073709551615", "_HLS_part=1", "_HLS_msn=-1", "_HLS_msn=1&_HLS_msn=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		bq, err := ParseBlockingQuery(q)
		if err == nil && bq.Part > 1000 {
			t.Fatalf("part index %d accepted", bq.Part)
		}
	})
}
