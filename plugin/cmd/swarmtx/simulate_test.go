package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A simulation asked for something impossible says which flag was wrong.
func TestSimulateFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--peers", "0"}, "at least one viewer"},
		{[]string{"--hostile", "2"}, "hostile 2 is not a share"},
		{[]string{"--churn", "-5"}, "--churn -5 is not a percentage"},
		{[]string{"--upload-mix", "50%:1x"}, "--upload-mix: upload mix \"50%:1x\": shares add up to 50%"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--sweep", ""}, `--sweep: entry 1 of "" is empty`},
		{[]string{"--sweep", "30,,300"}, `--sweep: entry 2 of "30,,300" is empty`},
		{[]string{"--sweep", "30,many"}, `--sweep: "many" is not a viewer count`},
		{[]string{"--sweep", "30,0"}, "--sweep: 0 is not a positive viewer count"},
		{[]string{"--sweep", "-5"}, "--sweep: -5 is not a positive viewer count"},
		{[]string{"--sweep", "30, 300,30"}, "--sweep: 30 is listed twice"},
		{[]string{"--sweep", "30,300", "--peers", "100"}, "--peers and --sweep both set the viewer count"},
		{[]string{"--sweep", "30,300", "--plot", ""}, "--plot needs a directory"},
		{[]string{"--sweep", "30,300", "--hostile", "2"}, "hostile 2 is not a share"},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"simulate"}, c.args...), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("simulate %q: exit %d, stderr %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}

// A small simulation prints its table, or its report as JSON.
func TestSimulatePrintsTheReport(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"simulate", "--peers", "12", "--duration", "10s", "--hostile", "0.1"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"server copies (media)", "P2P share", "stall ratio", "mesh depth", "banned", "wall time"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"simulate", "--peers", "12", "--duration", "10s", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r struct{ Peers int }
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Peers != 12 {
		t.Errorf("JSON report %q: %v, peers %d", out.String(), err, r.Peers)
	}
}

// A sweep runs once per viewer count, prints a JSON line per run and
// charts them as well-formed SVG naming the targets.
func TestSimulateSweepPlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "figures")
	var out, errOut bytes.Buffer
	code := run([]string{"simulate", "--sweep", "12,6", "--duration", "5s", "--json", "--plot", dir}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var peers []int
	lines := bufio.NewScanner(&out)
	for lines.Scan() {
		var r struct{ Peers int }
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("JSON line %q: %v", lines.Text(), err)
		}
		peers = append(peers, r.Peers)
	}
	if len(peers) != 2 || peers[0] != 12 || peers[1] != 6 {
		t.Errorf("runs for %v viewers, want 12 then 6", peers)
	}
	for file, wants := range map[string][]string{
		"sim-copies-vs-peers.svg": {"target: media ≤ 5 copies", "target: all egress ≤ 10 copies", "media (seeding + HTTP)", "all egress (media + signaling)"},
		"sim-p2p-vs-peers.svg":    {"P2P share %", "stall ratio %", "100"},
	} {
		path := filepath.Join(dir, file)
		svg, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		texts := svgTexts(t, svg)
		for _, want := range append(wants, "viewers watching at once (log scale)") {
			if !strings.Contains(texts, want) {
				t.Errorf("%s: no %q in its text %q", file, want, texts)
			}
		}
		if !strings.Contains(errOut.String(), "wrote "+path) {
			t.Errorf("stderr does not say %s was written: %s", path, errOut.String())
		}
	}
}

// One run's --plot charts the server's egress through it, interval by
// interval.
func TestSimulatePlotsEgressOverTime(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"simulate", "--peers", "8", "--duration", "12s", "--churn", "20", "--plot", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	path := filepath.Join(dir, "sim-egress-over-time.svg")
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, svg)
	for _, want := range []string{"Server egress through the run", "virtual time, s", "media (seeding + HTTP)", "all egress (media + signaling)", "8 viewers"} {
		if !strings.Contains(texts, want) {
			t.Errorf("no %q in the chart's text %q", want, texts)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sim-copies-vs-peers.svg")); err == nil {
		t.Error("one run wrote the sweep's chart of copies against viewers")
	}
}

// A sweep without --json prints each run's header and table.
func TestSimulateSweepPrintsEachReport(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"simulate", "--sweep", "6,12", "--duration", "5s"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"simulate: 6 viewers for 5s", "simulate: 12 viewers for 5s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "server copies (media)"); n != 2 {
		t.Errorf("%d reports, want 2:\n%s", n, out.String())
	}
}

// svgTexts checks that svg is well-formed XML and returns its character
// data, joined by newlines.
func svgTexts(t *testing.T, svg []byte) string {
	t.Helper()
	var texts []string
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return strings.Join(texts, "\n")
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(cd))
		}
	}
}
