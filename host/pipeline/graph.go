package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Spec is a whole graph, as built by the agent from the config.
type Spec struct {
	Polling   []PollingSpec
	Listeners []ListenerSpec
	Sinks     []SinkSpec
	Queue     QueueOptions
	// Owner filters polled resources; nil means this host owns them all.
	Owner Owner
	// StartupDelay bounds the random delay before the first poll (default 5s).
	StartupDelay time.Duration
}

// Graph is a running pipeline graph.
type Graph struct {
	spec  Spec
	sinks map[string]*sink
	m     *Metrics
	log   hclog.Logger

	cancelSources context.CancelFunc
	cancelQueues  context.CancelFunc
	sourcesDone   sync.WaitGroup
	sinksDone     sync.WaitGroup
	stopOnce      sync.Once
	stopped       chan struct{}
	listeners     []*listenerStatus // in spec order
}

// New checks spec and builds a graph; Start runs it.
func New(spec Spec, m *Metrics, log hclog.Logger) (*Graph, error) {
	g := &Graph{spec: spec, sinks: map[string]*sink{}, m: m, log: log.Named("pipeline"), stopped: make(chan struct{})}
	for _, s := range spec.Sinks {
		if _, dup := g.sinks[s.Name]; dup {
			g.discard()
			return nil, fmt.Errorf("duplicate sink %q", s.Name)
		}
		if len(s.Publishers) == 0 {
			g.discard()
			return nil, fmt.Errorf("sink %q has no publisher", s.Name)
		}
		sk, err := newSink(s, spec.Queue, m, g.log)
		if err != nil {
			g.discard()
			return nil, err
		}
		g.sinks[s.Name] = sk
	}
	check := func(src string, names []string) error {
		for _, n := range names {
			if _, ok := g.sinks[n]; !ok {
				return fmt.Errorf("%s: undefined sink %q", src, n)
			}
		}
		return nil
	}
	for _, p := range spec.Polling {
		if p.Interval <= 0 {
			g.discard()
			return nil, fmt.Errorf("polling %q: interval must be positive", p.Name)
		}
		if err := check("polling "+p.Name, p.Sinks); err != nil {
			g.discard()
			return nil, err
		}
	}
	for _, l := range spec.Listeners {
		if err := check(l.ID, l.Sinks); err != nil {
			g.discard()
			return nil, err
		}
		g.listeners = append(g.listeners, newListenerStatus(l.ID))
	}
	if g.spec.Owner == nil {
		g.spec.Owner = ownAll{}
	}
	if g.spec.StartupDelay <= 0 {
		g.spec.StartupDelay = 5 * time.Second
	}
	return g, nil
}

// discard closes the disk queues of a graph that will not start.
func (g *Graph) discard() {
	for _, s := range g.sinks {
		s.discard()
	}
}

// Start runs the graph's sinks and sources. Stop ends it gracefully; ctx
// ending is a hard stop (sources stop, queues are abandoned at once), so
// callers that drain on shutdown pass a ctx that outlives their signal.
func (g *Graph) Start(ctx context.Context) {
	qctx, cancelQueues := context.WithCancel(context.WithoutCancel(ctx))
	sctx, cancelSources := context.WithCancel(ctx)
	g.cancelQueues, g.cancelSources = cancelQueues, cancelSources
	for _, s := range g.sinks {
		g.sinksDone.Add(1)
		go func() {
			defer g.sinksDone.Done()
			s.run(qctx, qctx)
		}()
	}
	sch := &scheduler{groups: map[time.Duration][]*PollingSpec{}, sinks: g.sinks, owner: g.spec.Owner, m: g.m,
		log: g.log, maxDelay: g.spec.StartupDelay}
	for i := range g.spec.Polling {
		p := &g.spec.Polling[i]
		sch.groups[p.Interval] = append(sch.groups[p.Interval], p)
	}
	g.sourcesDone.Add(1)
	go func() {
		defer g.sourcesDone.Done()
		sch.run(sctx)
	}()
	for i, l := range g.spec.Listeners {
		g.sourcesDone.Add(1)
		go func() {
			defer g.sourcesDone.Done()
			runListener(sctx, l, g.sinks, g.m, g.log, g.listeners[i])
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			g.Stop(ctx)
		case <-g.stopped:
		}
	}()
}

// Stop stops the sources, then lets the sinks drain their queues until ctx
// is done: what is left is answered Retry (deliveries) or counted dropped
// (polled samples). Safe to call twice and before Start.
func (g *Graph) Stop(ctx context.Context) {
	g.stopOnce.Do(func() {
		if g.cancelSources == nil {
			g.discard()
			return
		}
		g.cancelSources()
		g.sourcesDone.Wait()
		for _, s := range g.sinks {
			close(s.in)
		}
		done := make(chan struct{})
		go func() {
			g.sinksDone.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			g.cancelQueues()
			<-done
		}
		g.cancelQueues()
		close(g.stopped)
	})
}

// Listening waits until every listener's first stream is open or failed
// to open, and returns the failures joined (each prefixed with the
// listener's ID). A listener still opening when ctx ends (a plugin that
// does not report being ready) is not an error. Call it after Start.
func (g *Graph) Listening(ctx context.Context) error {
	var errs []error
	for _, l := range g.listeners {
		select {
		case err := <-l.first:
			l.first <- err // for the next caller
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.get().ID, err))
			}
		case <-ctx.Done():
		}
	}
	return errors.Join(errs...)
}

// Listeners returns each listener's state and last stream error.
func (g *Graph) Listeners() []ListenerStatus {
	out := make([]ListenerStatus, len(g.listeners))
	for i, l := range g.listeners {
		out[i] = l.get()
	}
	return out
}
