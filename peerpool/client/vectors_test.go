package client

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestJSExchangeVectors: the browser client's exchange (src/exchange.js)
// makes the Go exchange's decisions: every scenario vector of
// peerpool/exchange produces the same actions in Node as in Go.
func TestJSExchangeVectors(t *testing.T) {
	node := nodeBinary(t)
	files, err := filepath.Glob("../exchange/testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	var vectors []json.RawMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		vectors = append(vectors, b)
	}
	runNodeCheck(t, node, "test/vectors_check.js", vectors)
}
