package viewer

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Variant is one rendition a multivariant playlist offers.
type Variant struct {
	// Name is the rendition as Config.Rendition takes it: the media
	// playlist's file name without ".m3u8".
	Name string
	// Bandwidth is the peak bit rate the playlist declares (bits/s).
	Bandwidth int64
}

// maxVariants bounds the variants one multivariant playlist may list.
const maxVariants = 64

// Variants fetches the multivariant playlist index.m3u8 under cfg.URL,
// as a Viewer of cfg would (its HTTP client and header), and returns its
// renditions in playlist order. cfg.Rendition is not used.
func Variants(ctx context.Context, cfg Config) ([]Variant, error) {
	base, err := streamBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	index := base.ResolveReference(&url.URL{Path: "index.m3u8"}).String()
	client := cfg.HTTPClient
	if client == nil {
		client = defaultClient
	}
	body, _, err := fetch(ctx, client, cfg.Header, index, 0, maxPlaylistSize)
	if err != nil {
		return nil, fmt.Errorf("viewer: fetching %s: %w", index, err)
	}
	vs, err := parseMultivariant(string(body))
	if err != nil {
		return nil, fmt.Errorf("viewer: %s: %w", index, err)
	}
	return vs, nil
}

// parseMultivariant reads an untrusted multivariant playlist. Only
// renditions a Viewer can follow (a relative "<name>.m3u8" URI next to the
// multivariant playlist) are returned.
func parseMultivariant(body string) ([]Variant, error) {
	if len(body) > maxPlaylistSize {
		return nil, fmt.Errorf("multivariant playlist of %d bytes is too large", len(body))
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxPlaylistSize)
	var (
		out     []Variant
		pending *Variant // the STREAM-INF waiting for its URI line
		first   = true
	)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, fmt.Errorf("multivariant playlist does not start with #EXTM3U")
			}
			first = false
			continue
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			attrs, err := parseAttrs(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:"))
			if err != nil {
				return nil, fmt.Errorf("EXT-X-STREAM-INF: %w", err)
			}
			bw, err := strconv.ParseInt(attrs["BANDWIDTH"], 10, 64)
			if err != nil || bw <= 0 {
				return nil, fmt.Errorf("EXT-X-STREAM-INF: BANDWIDTH %q is not a positive integer", short(attrs["BANDWIDTH"]))
			}
			pending = &Variant{Bandwidth: bw}
		case strings.HasPrefix(line, "#"):
		default:
			if pending == nil {
				continue // a URI without STREAM-INF is not a variant
			}
			name, ok := strings.CutSuffix(line, ".m3u8")
			if ok && !strings.ContainsAny(name, "/?#:") && name != "" {
				pending.Name = name
				if len(out) == maxVariants {
					return nil, fmt.Errorf("more than %d variants", maxVariants)
				}
				out = append(out, *pending)
			}
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("multivariant playlist: %w", err)
	}
	if first {
		return nil, fmt.Errorf("multivariant playlist is empty")
	}
	return out, nil
}
