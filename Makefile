# swarmtx — developer and CI entry points. CI runs `make test`, then `make test-long`.
GO      ?= go
BIN     := bin/swarmtx
# Integration tests stream real media on a 2-core machine: packages run one at
# a time (-p 1) so one package's encoders do not starve another's timing.
TESTFLAGS ?= -timeout 40m -p 1
FUZZTIME  ?= 10s

.PHONY: all deps build test test-long bench vet fuzz-short demo simulate simulate-plots clean

all: build

# System packages (ffmpeg, chromium, iproute2, util-linux, nftables, nginx-light, npm) and the pinned
# MediaMTX + hls.js, cached outside the repo (see integration/tools/deps.sh).
deps:
	bash integration/tools/deps.sh

build:
	$(GO) build -o $(BIN) ./plugin/cmd/swarmtx

vet:
	$(GO) vet ./...

# Integration tests are ordinary Go tests; they need deps, and some run the
# built binary as MediaMTX's hook. make test runs the integration package with
# -short, which leaves its long watches (TestLong: crowds, NAT beds, the
# attack suite, minute-long browser watches, the demo) to make test-long.
# The short form of the swarm benchmark runs too: it checks the invariants
# every form keeps (all play, nothing bad played, at most half a copy per
# viewer) and prints its figures.
UNITPKGS = $$($(GO) list ./... | grep -v '/integration$$')
test: deps build vet
	$(GO) test $(TESTFLAGS) $(UNITPKGS)
	$(GO) test -short $(TESTFLAGS) ./integration
	$(GO) test -timeout 10m -run '^$$' -bench 'Swarm/short' -benchtime 1x ./integration

# The long watches make test leaves out; CI runs them after make test.
test-long: deps build
	$(GO) test $(TESTFLAGS) -run '^TestLong$$' ./integration

# The swarm benchmark's full forms (30 viewers; a few minutes each).
bench: deps build
	$(GO) test -timeout 45m -run '^$$' -bench 'Swarm' -benchtime 1x ./integration

# swarmtx against p2p-media-loader and MediaMTX's own HLS and LL-HLS: the same
# stream to the same headless Chromium viewers, set-up after set-up (server
# copies, P2P share, lag, stalls, startup). COMPAREFLAGS passes e.g.
# -compare.viewers 6 -compare.watch 60s.
.PHONY: bench-compare
COMPAREFLAGS ?=
bench-compare: deps build
	$(GO) test -count=1 -timeout 30m -run '^$$' -bench Compare -benchtime 1x -v ./integration $(COMPAREFLAGS)

# The swarm simulator (peerpool/sim) at 1,000, 10,000 and 100,000 viewers
# with the default mix of uplinks and 10%/min churn: the real protocol, the
# hub's Core, tracker, trust ledger and seed count on a virtual clock, no
# network. The two larger runs are cut off after SIMWALL of real time each
# and report the virtual time they reached; the memory limit makes the
# collector work harder rather than let the heap outgrow the machine.
SIMWALL ?= 100s
simulate: build
	$(BIN) simulate --peers 1000 --duration 60s --churn 10
	$(BIN) simulate --peers 10000 --duration 60s --churn 10 --max-wall $(SIMWALL)
	GOMEMLIMIT=16GiB $(BIN) simulate --peers 100000 --duration 60s --churn 10 --max-wall $(SIMWALL)

# The simulator swept over swarm sizes and charted against them (server
# copies with their targets, P2P share and stalls), and one run with churn
# charted through time, as SVG in integration/figures. A target of its own
# because `simulate` takes minutes.
SWEEP ?= 30,100,300,1000
simulate-plots: build
	$(BIN) simulate --sweep $(SWEEP) --duration 60s --plot integration/figures
	$(BIN) simulate --peers 1000 --duration 120s --churn 10 --plot integration/figures

# Runs every Fuzz target of every package for FUZZTIME each (go test allows
# one -fuzz target per invocation, hence the loop). Minimizing a new input
# may take up to a minute by default, which would eat a short run whole.
fuzz-short:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
	  done; \
	done

demo: build deps
	bash integration/tools/demo.sh

clean:
	rm -rf bin/
	$(GO) clean -testcache
