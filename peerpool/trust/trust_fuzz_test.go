package trust

import (
	"fmt"
	"testing"
	"time"
)

// FuzzLedger drives a ledger with what viewers can send it (joins,
// neighbour links, confirmations, reports of any kind, in any order) and
// checks the rules no input may break: credits never exceed what could
// have been received, a session on the accused's network never counts
// against it, and nobody is convicted without BanQuorum networks.
func FuzzLedger(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("\x00\x01\x02\x03\x10\x21\x32\x43\x54\x65\x76\x87\x98\xa9\xba\xcb"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		l := New(Config{StandingBytes: 100})
		now := t0
		id := func(b byte) ID { return ID(fmt.Sprint("s", b%8)) }
		for i := 0; i+2 < len(ops); i += 3 {
			op, a, b := ops[i]%6, ops[i+1], ops[i+2]
			now = now.Add(time.Duration(b) * 100 * time.Millisecond)
			switch op {
			case 0:
				l.Join(id(a), network(int(b%4)))
			case 1:
				l.Neighbours(id(a), id(b))
			case 2:
				limit := int64(b) * 10
				credits := l.Confirm(id(a), []Received{{id(b), int64(a) * 7}, {id(a + b), int64(b) * 13}}, limit, now)
				var sum int64
				for _, c := range credits {
					sum += c
				}
				if sum > limit {
					t.Fatalf("credited %d for a limit of %d", sum, limit)
				}
			case 3, 4:
				v := l.Report(id(a), id(b), op == 3, now)
				if v.Ban && v.Quorum < l.cfg.BanQuorum {
					t.Fatalf("ban with quorum %d", v.Quorum)
				}
			case 5:
				l.Leave(id(a))
			}
			for _, c := range l.Review(now) {
				if c.Quorum < l.cfg.BanQuorum || c.Quorum <= c.Defence {
					t.Fatalf("convicted %s with %+v", c.ID, c.Verdict)
				}
				acc := l.sessions[c.ID]
				for n, r := range acc.reportedBy {
					if sameNetwork(n, acc.network) || sameNetwork(l.sessions[r].network, acc.network) {
						t.Fatalf("a reporter on the accused's own network counted against it")
					}
				}
			}
		}
	})
}
