package sim

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// kind says what an event does when its time comes.
type kind uint8

const (
	evJoin     kind = iota // a viewer arrives
	evChurn                // one viewer leaves, a newcomer takes its place
	evCut                  // the origin cuts the next part
	evTick                 // the server's periodic work
	evStats                // a viewer reports its stats
	evDeadline             // a Machine's Deadline came
	evFrame                // a frame arrives over a data channel
	evOpen                 // a data channel opens between node and from
	evClosed               // from closed its connection to node
	evSignal               // a signaling message from the server arrives at node
	evUp                   // node's report or stats reach the server
	evPeerWait             // node stops waiting for part from the swarm
	evHTTP                 // node's HTTP fetch of part completes
	evPlay                 // node's playhead reaches part
	evProgress             // time to log how far the run got
	evSample               // time to sample the server's egress
)

// event is one timed happening. Which fields matter depends on kind.
type event struct {
	at   time.Duration // virtual time since the start of the run
	seq  uint64        // ties go in the order the events were made
	kind kind
	node int32
	from int32
	part int32
	size int32 // evHTTP: the bytes fetched, what the swarm had not brought
	data []byte
	msg  wire.Signal
}

// queue is a binary min-heap of events by time, then by creation order, so
// that a run does not depend on anything but its seed.
type queue struct {
	items []event
	seq   uint64
}

func (q *queue) len() int { return len(q.items) }

func (q *queue) push(e event) {
	q.seq++
	e.seq = q.seq
	q.items = append(q.items, e)
	i := len(q.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *queue) pop() event {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items[last] = event{}
	q.items = q.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && q.less(l, m) {
			m = l
		}
		if r < last && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
	return top
}

func (q *queue) less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}
