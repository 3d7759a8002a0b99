package pipeline

import (
	"sync"

	"github.com/altimeter/altimeter/sdk/base"
)

// tracker collects the outcomes of one delivery's parts (one per publisher
// per sink) and calls done once, with the worst outcome: Rejected over
// Retry over Accepted.
type tracker struct {
	mu      sync.Mutex
	pending int
	outcome base.Outcome
	reason  string
	done    func(base.Outcome, string)
	sealed  bool
}

func newTracker(done func(base.Outcome, string)) *tracker {
	return &tracker{outcome: base.Accepted, done: done}
}

// add registers n more parts; call it before handing any of them out.
func (t *tracker) add(n int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.pending += n
	t.mu.Unlock()
}

// resolve records one part's outcome.
func (t *tracker) resolve(o base.Outcome, reason string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if rank(o) > rank(t.outcome) {
		t.outcome, t.reason = o, reason
	}
	t.pending--
	fire := t.pending == 0 && t.sealed
	t.mu.Unlock()
	if fire {
		t.done(t.outcome, t.reason)
	}
}

// seal says no more parts will be added; done fires when pending reaches 0.
func (t *tracker) seal() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.sealed = true
	fire := t.pending == 0
	t.mu.Unlock()
	if fire {
		t.done(t.outcome, t.reason)
	}
}

func rank(o base.Outcome) int {
	switch o {
	case base.Rejected:
		return 3
	case base.Retry:
		return 2
	case base.Accepted:
		return 1
	}
	return 0
}
