package viewer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const sampleMultivariant = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2628000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,NAME="source"
source.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1128000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=854x480,NAME="480p"
480p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000
https://elsewhere.example/other.m3u8
`

func TestParseMultivariant(t *testing.T) {
	vs, err := parseMultivariant(sampleMultivariant)
	if err != nil {
		t.Fatal(err)
	}
	want := []Variant{{"source", 2628000}, {"480p", 1128000}}
	if len(vs) != len(want) || vs[0] != want[0] || vs[1] != want[1] {
		t.Fatalf("got %+v, want %+v", vs, want)
	}
}

func TestParseMultivariantRejects(t *testing.T) {
	for name, body := range map[string]string{
		"empty":         "",
		"no header":     "#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
		"no bandwidth":  "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"x\"\na.m3u8\n",
		"bad bandwidth": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=-5\na.m3u8\n",
		"bad attrs":     "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH\na.m3u8\n",
		"too many":      "#EXTM3U\n" + strings.Repeat("#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", maxVariants+1),
	} {
		if _, err := parseMultivariant(body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVariantsFetchesIndex(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "viewer" || p != "secret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/live/show/index.m3u8" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(sampleMultivariant))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth("viewer", "secret")
	cfg := Config{URL: srv.URL + "/live/show", HTTPClient: srv.Client(), Header: req.Header}
	vs, err := Variants(context.Background(), cfg)
	if err != nil || len(vs) != 2 {
		t.Fatalf("Variants = %+v, %v", vs, err)
	}
	cfg.URL = srv.URL + "/other/"
	if _, err := Variants(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a missing stream gave %v, want an error naming HTTP 404", err)
	}
	cfg.Header = nil
	if _, err := Variants(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no credentials gave %v, want an error naming HTTP 401", err)
	}
}

func FuzzParseMultivariant(f *testing.F) {
	f.Add(sampleMultivariant)
	f.Fuzz(func(t *testing.T, body string) {
		vs, err := parseMultivariant(body)
		if err != nil {
			return
		}
		if len(vs) > maxVariants {
			t.Fatalf("%d variants", len(vs))
		}
		for _, v := range vs {
			if v.Bandwidth <= 0 || v.Name == "" || strings.ContainsAny(v.Name, "/?#:") {
				t.Fatalf("bad variant %+v", v)
			}
		}
	})
}
