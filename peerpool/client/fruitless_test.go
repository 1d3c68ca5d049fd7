package client

import (
	"os/exec"
	"testing"
)

type fruitlessCase struct {
	Name           string `json:"name"`
	Behaviour      string `json:"behaviour"` // "stall" or "nope"
	DeliveredFirst bool   `json:"deliveredFirst"`
}

// TestJSDropsNeighboursThatNeverDeliver: the browser client drops and
// reports a neighbour that takes WANTs and never delivers, after the same
// counts as the Go peer (peerpool/peer/fruitless.go), and keeps a busy one
// that NOPEs but has delivered.
func TestJSDropsNeighboursThatNeverDeliver(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	runNodeCheck(t, node, "test/fruitless_check.js", []fruitlessCase{
		{Name: "lets WANTs run out", Behaviour: "stall"},
		{Name: "lets WANTs run out after delivering once", Behaviour: "stall", DeliveredFirst: true},
		{Name: "NOPEs and never delivered", Behaviour: "nope"},
		{Name: "NOPEs but delivered before", Behaviour: "nope", DeliveredFirst: true},
	})
}
