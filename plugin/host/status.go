package host

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// StatusFormat is how `swarmtx status` prints.
type StatusFormat int

const (
	// StatusTable: a header line, then one line per stream and per
	// rendition, the figures an operator watches first, at most
	// statusWidth columns.
	StatusTable StatusFormat = iota
	// StatusVerbose: the table with the copies split into HTTP and
	// seeding, and lines per stream with its URL, bytes served and, when
	// the table shortened it, its path.
	StatusVerbose
	// StatusJSON: one StatusJSON document, for scripts.
	StatusJSON
)

// statusWidth is what the table fits in: an 80–100 column terminal or a
// log line should not wrap.
const statusWidth = 100

// StatusDoc is `swarmtx status --json`. The field names are part of the
// command's interface: add fields, never rename them.
type StatusDoc struct {
	Pid           int    `json:"pid"`
	Version       string `json:"version"`
	ListenAddress string `json:"listen_address"`
	// Started is null when the plugin did not say.
	Started *time.Time `json:"started"`
	// Streams are sorted by path.
	Streams []StreamDoc `json:"streams"`
}

// StreamDoc is one stream of StatusDoc.
type StreamDoc struct {
	Path  string `json:"path"`
	State string `json:"state"` // "attached" or "waiting-for-reconnect"
	// Viewers in the stream's swarm now.
	Viewers int `json:"viewers"`
	// P2PShare (0..1) of the media bytes the viewers reported since the
	// stream attached that came from other viewers.
	P2PShare      float64    `json:"p2p_share"`
	AttachedSince *time.Time `json:"attached_since"`
	URL           string     `json:"url"`
	// BytesServed over HTTP by the origin since the stream attached.
	BytesServed uint64 `json:"bytes_served"`
	// Renditions in ladder order.
	Renditions []RenditionDoc `json:"renditions"`
	// Connections are the peer connections the swarm's viewers report
	// now, by type: "host/udp", "srflx/udp", "relay/udp", "host/tcp", ...
	// (an ICE candidate pair's worse end, srflx for either reflexive
	// kind, and its protocol). Types with none are left out.
	Connections map[string]int `json:"connections"`
	// ViewersWithoutP2P are the viewers joined for 10 s or more that got
	// no media from peers.
	ViewersWithoutP2P int `json:"viewers_without_p2p"`
}

// RenditionDoc is one rendition of StreamDoc. Server copies are the bytes
// the server sent for the rendition divided by its bytes; plain HTTP costs
// one copy per viewer. A copies field is null while the rendition has made
// no bytes (over the last minute, for CopiesLastMinute).
type RenditionDoc struct {
	Name string `json:"name"`
	// Viewers in the rendition's swarm when its last seed window ended.
	Viewers int `json:"viewers"`
	// Copies since the stream attached: HTTPCopies + SeedCopies.
	Copies     *float64 `json:"copies"`
	HTTPCopies *float64 `json:"http_copies"`
	SeedCopies *float64 `json:"seed_copies"`
	// CopiesLastMinute are the copies over the last minute.
	CopiesLastMinute *float64 `json:"copies_last_minute"`
}

// NewStatusDoc turns st into the --json document.
func NewStatusDoc(st contract.Status) StatusDoc {
	d := StatusDoc{Pid: st.Pid, Version: st.Version, ListenAddress: st.ListenAddress, Started: timeOrNil(st.Started),
		Streams: []StreamDoc{}}
	for _, s := range sortedStreams(st.Streams) {
		sd := StreamDoc{Path: s.Path, State: string(s.State), Viewers: s.Viewers, P2PShare: s.P2PShare,
			AttachedSince: timeOrNil(s.AttachedSince), URL: s.URL, BytesServed: s.BytesServed,
			Renditions: []RenditionDoc{}, Connections: map[string]int{}, ViewersWithoutP2P: s.ViewersWithoutP2P}
		for _, c := range s.Connections {
			sd.Connections[c.Type] += c.Count
		}
		for _, r := range renditions(s) {
			rd := RenditionDoc{Name: r.Rendition, Viewers: r.Viewers}
			if r.made {
				rd.Copies, rd.HTTPCopies, rd.SeedCopies = ptr(r.HTTP+r.Peer), ptr(r.HTTP), ptr(r.Peer)
			}
			if c, ok := r.CopiesLastMinute(); ok {
				rd.CopiesLastMinute = ptr(c)
			}
			sd.Renditions = append(sd.Renditions, rd)
		}
		d.Streams = append(d.Streams, sd)
	}
	return d
}

// WriteStatus prints st in format f; now is when st was taken.
func WriteStatus(out io.Writer, st contract.Status, now time.Time, f StatusFormat) error {
	if f == StatusJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(NewStatusDoc(st))
	}
	verbose := f == StatusVerbose
	var b strings.Builder
	writeStatusHeader(&b, st, now)
	if len(st.Streams) > 0 {
		b.WriteString("\n")
		writeStatusTable(&b, st, now, verbose)
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func writeStatusHeader(b *strings.Builder, st contract.Status, now time.Time) {
	first := fmt.Sprintf("swarmtx plugin pid %d, version %s", st.Pid, st.Version)
	rest := "listening on " + st.ListenAddress
	if !st.Started.IsZero() {
		rest += ", up " + shortDuration(now.Sub(st.Started))
	}
	rest += ", " + plural(len(st.Streams), "stream")
	// A long (development) version would push the line past the width.
	if utf8.RuneCountInString(first)+2+utf8.RuneCountInString(rest) <= statusWidth {
		fmt.Fprintf(b, "%s, %s\n", first, rest)
	} else {
		fmt.Fprintf(b, "%s,\n%s\n", first, rest)
	}
}

// The table's columns; only verbose shows colHTTP and colSeed.
const (
	colName = iota
	colViewers
	colLastMinute
	colCopies
	colHTTP
	colSeed
	colP2P
	colState
	colAttached
	numCols
)

var (
	colTitle = [numCols]string{"STREAM / RENDITION", "VIEWERS", "LAST MIN", "TOTAL", "HTTP", "SEED", "P2P", "STATE", "ATTACHED"}
	colRight = [numCols]bool{false, true, true, true, true, true, true, false, false}
)

// copiesTitle spans the copies columns in a line above their titles.
const copiesTitle = "SERVER COPIES"

type tableLine struct {
	cells [numCols]string
	// path, url and served make verbose lines of their own instead of cells.
	detail      bool
	path, url   string
	servedBytes uint64
	// text is printed as it is, instead of cells.
	text string
}

func writeStatusTable(b *strings.Builder, st contract.Status, now time.Time, verbose bool) {
	var lines []tableLine
	for _, s := range sortedStreams(st.Streams) {
		var l tableLine
		l.cells[colName] = s.Path
		l.cells[colViewers] = fmt.Sprint(s.Viewers)
		l.cells[colP2P] = fmt.Sprintf("%.0f%%", 100*s.P2PShare)
		l.cells[colState] = string(s.State)
		l.cells[colAttached] = "-"
		if !s.AttachedSince.IsZero() {
			l.cells[colAttached] = shortDuration(now.Sub(s.AttachedSince))
		}
		lines = append(lines, l)
		for _, r := range renditions(s) {
			var l tableLine
			l.cells[colName] = "  " + r.Rendition
			l.cells[colViewers] = fmt.Sprint(r.Viewers)
			l.cells[colLastMinute], l.cells[colCopies], l.cells[colHTTP], l.cells[colSeed] = "-", "-", "-", "-"
			if c, ok := r.CopiesLastMinute(); ok {
				l.cells[colLastMinute] = fmt.Sprintf("%.2f", c)
			}
			if r.made {
				l.cells[colCopies] = fmt.Sprintf("%.2f", r.HTTP+r.Peer)
				l.cells[colHTTP] = fmt.Sprintf("%.2f", r.HTTP)
				l.cells[colSeed] = fmt.Sprintf("%.2f", r.Peer)
			}
			lines = append(lines, l)
		}
		if text := connectionsText(s); text != "" {
			lines = append(lines, tableLine{text: text})
		}
		if verbose {
			lines = append(lines, tableLine{detail: true, path: s.Path, url: s.URL, servedBytes: s.BytesServed})
		}
	}

	shown := func(c int) bool { return verbose || (c != colHTTP && c != colSeed) }
	var width [numCols]int
	for c := range numCols {
		width[c] = utf8.RuneCountInString(colTitle[c])
		for _, l := range lines {
			width[c] = max(width[c], utf8.RuneCountInString(l.cells[c]))
		}
	}
	// The copies title must fit over its columns.
	span := width[colLastMinute] + 2 + width[colCopies]
	if verbose {
		span += 4 + width[colHTTP] + width[colSeed]
	}
	if short := utf8.RuneCountInString(copiesTitle) - span; short > 0 {
		width[colCopies] += short
	}
	// Long paths give way so that the figures stay on the line.
	others := 0
	for c := colViewers; c < numCols; c++ {
		if shown(c) {
			others += 2 + width[c]
		}
	}
	width[colName] = max(min(width[colName], statusWidth-others), utf8.RuneCountInString(colTitle[colName]))

	row := func(cells [numCols]string) {
		var lb strings.Builder
		for c := range numCols {
			if !shown(c) {
				continue
			}
			if c > 0 {
				lb.WriteString("  ")
			}
			cell := cells[c]
			if c == colName {
				cell = middleEllipsis(cell, width[c])
			}
			pad := strings.Repeat(" ", width[c]-utf8.RuneCountInString(cell))
			if colRight[c] {
				lb.WriteString(pad + cell)
			} else {
				lb.WriteString(cell + pad)
			}
		}
		b.WriteString(strings.TrimRight(lb.String(), " ") + "\n")
	}
	b.WriteString(strings.Repeat(" ", width[colName]+2+width[colViewers]+2) + copiesTitle + "\n")
	row(colTitle)
	for _, l := range lines {
		if l.text != "" {
			b.WriteString(l.text)
			continue
		}
		if l.detail {
			if utf8.RuneCountInString(l.path) > width[colName] {
				b.WriteString("  path: " + l.path + "\n")
			}
			u := l.url
			if u == "" {
				u = "-"
			}
			fmt.Fprintf(b, "  url: %s, served %s over HTTP\n", u, humanBytes(l.servedBytes))
			continue
		}
		row(l.cells)
	}
}

// connectionsText is a stream's line of peer connections by type and
// viewers without P2P, wrapped to statusWidth, e.g.
// "  connections: host/udp 12, srflx/udp 3, relay/udp 1 · 2 viewers without P2P";
// nothing for a stream with no viewers and no figures.
func connectionsText(s contract.StreamStatus) string {
	if s.Viewers == 0 && len(s.Connections) == 0 && s.ViewersWithoutP2P == 0 {
		return ""
	}
	var units []string
	for i, c := range s.Connections {
		u := fmt.Sprintf("%s %d", c.Type, c.Count)
		if i < len(s.Connections)-1 {
			u += ","
		}
		units = append(units, u)
	}
	if len(units) == 0 {
		units = append(units, "none")
	}
	units = append(units, "· "+plural(s.ViewersWithoutP2P, "viewer")+" without P2P")

	const prefix = "  connections:"
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	var b strings.Builder
	line := prefix
	for _, u := range units {
		if n := utf8.RuneCountInString(line) + 1 + utf8.RuneCountInString(u); n > statusWidth && line != prefix && line != indent {
			b.WriteString(line + "\n")
			line = indent
		}
		line += " " + u
	}
	b.WriteString(line + "\n")
	return b.String()
}

// renditionFigures are a rendition's copies; made is false while it has
// made no bytes (its copies are then undefined).
type renditionFigures struct {
	contract.RenditionCopies
	made bool
}

// renditions lists s's renditions in ladder order, then any that has
// copies but is no longer in the ladder.
func renditions(s contract.StreamStatus) []renditionFigures {
	copies := make(map[string]contract.RenditionCopies, len(s.Copies))
	for _, c := range s.Copies {
		copies[c.Rendition] = c
	}
	var out []renditionFigures
	seen := make(map[string]bool)
	for _, name := range s.Renditions {
		if seen[name] {
			continue
		}
		seen[name] = true
		c, ok := copies[name]
		if !ok {
			c = contract.RenditionCopies{Rendition: name}
		}
		out = append(out, renditionFigures{c, ok})
	}
	for _, c := range s.Copies {
		if !seen[c.Rendition] {
			seen[c.Rendition] = true
			out = append(out, renditionFigures{c, true})
		}
	}
	return out
}

func sortedStreams(ss []contract.StreamStatus) []contract.StreamStatus {
	out := append([]contract.StreamStatus(nil), ss...)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// middleEllipsis shortens s to n columns by cutting its middle, where a
// path's distinguishing parts (its start and its end) are least likely.
func middleEllipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n < 2 {
		return string(r[:n])
	}
	tail := (n - 1) / 2
	head := n - 1 - tail
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// shortDuration renders d with its two leading units, e.g. "42s", "5m03s",
// "3h05m", "12d03h".
func shortDuration(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func ptr[T any](v T) *T { return &v }

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
