package series

import (
	"sync"
	"time"
)

// readGate admits the reads of pdb that do not hold writeMu (Scan, Lookup,
// Stats, View, DiskUsage, Compact), so that Pebble is never closed or
// swapped under an open iterator or snapshot. Unlike a read-write mutex it
// never holds a reader off for long, so a goroutine that holds one read
// (a View) while it starts another cannot deadlock against a waiting Close
// or reopen: Close turns new reads away at once (ErrClosed), and a reopen
// holds them off only while it waits, briefly, for the reads in flight,
// and gives up if they do not end.
type readGate struct {
	mu      sync.Mutex
	readers int
	closed  bool
	held    chan struct{} // non-nil while a reopen holds new reads off; closed when it ends
	idle    chan struct{} // non-nil while someone waits for the readers; closed at zero
}

// enter admits a read; false after close.
func (g *readGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.held != nil && !g.closed {
		h := g.held
		g.mu.Unlock()
		<-h
		g.mu.Lock()
	}
	if g.closed {
		return false
	}
	g.readers++
	return true
}

// exit ends a read admitted by enter.
func (g *readGate) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.readers--
	if g.readers == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// idleCh returns a channel closed once no read is in flight. Called with mu
// held.
func (g *readGate) idleCh() chan struct{} {
	if g.readers == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	return g.idle
}

// close turns new reads away and returns a channel closed once the reads
// in flight have ended.
func (g *readGate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.idleCh()
}

// hold holds new reads off and waits up to wait for the reads in flight to
// end. It returns a release func when they did (call it once done); nil
// when they did not, with new reads admitted again.
func (g *readGate) hold(wait time.Duration) func() {
	g.mu.Lock()
	held := make(chan struct{})
	g.held = held
	idle := g.idleCh()
	g.mu.Unlock()
	release := func() {
		g.mu.Lock()
		g.held = nil
		g.mu.Unlock()
		close(held)
	}
	select {
	case <-idle:
		return release
	case <-time.After(wait):
		release()
		return nil
	}
}
