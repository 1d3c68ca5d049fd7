package main

import (
	"bytes"
	"encoding/json"
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
