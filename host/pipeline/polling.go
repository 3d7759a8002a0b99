package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
)

// PollTask is one pollster's share of a polling source: the meters routed to
// it and where its resources come from.
type PollTask struct {
	// PollsterID names the instance ("pollster.host").
	PollsterID string
	Poller     Poller
	Meters     []string
	// Discovery lists methods of this pollster to call for resources.
	Discovery []string
	// Resources are static resources (endpoints from the config).
	Resources []sample.Resource
	// Keep, when set, selects the returned samples to keep by meter name:
	// the polling block's rules, for a pollster whose meters come from its
	// config (Meters then holds the block's patterns).
	Keep func(meter string) bool
}

// PollingSpec is one polling source.
type PollingSpec struct {
	Name     string
	Interval time.Duration
	Tasks    []PollTask
	Sinks    []string
}

// Owner decides which resources this member polls, asked once per
// resource per round with the pollster instance id ("pollster.snmp"). On
// one host it owns them all; the cluster plugs its partition map in here.
// Owns is called concurrently and must not block.
type Owner interface {
	Owns(pollster string, r sample.Resource) bool
}

type ownAll struct{}

func (ownAll) Owns(string, sample.Resource) bool { return true }

// scheduler runs one timer per distinct interval.
type scheduler struct {
	groups   map[time.Duration][]*PollingSpec
	sinks    map[string]*sink
	owner    Owner
	m        *Metrics
	log      hclog.Logger
	maxDelay time.Duration
}

func (s *scheduler) run(ctx context.Context) {
	intervals := make([]time.Duration, 0, len(s.groups))
	for iv := range s.groups {
		intervals = append(intervals, iv)
	}
	sort.Slice(intervals, func(i, j int) bool { return intervals[i] < intervals[j] })
	var wg sync.WaitGroup
	for _, iv := range intervals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runInterval(ctx, iv, s.groups[iv])
		}()
	}
	wg.Wait()
}

// runInterval polls every source of one interval: first after a small
// random delay (so agents started together do not poll in step), then every
// interval, each round shifted by up to a tenth of the interval of jitter.
func (s *scheduler) runInterval(ctx context.Context, iv time.Duration, specs []*PollingSpec) {
	delay := time.Duration(rand.Int64N(int64(min(s.maxDelay, iv)) + 1))
	timer := time.NewTimer(delay)
	defer timer.Stop()
	next := time.Now().Add(delay)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		var wg sync.WaitGroup
		for _, spec := range specs {
			for i := range spec.Tasks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.pollTask(ctx, spec, &spec.Tasks[i])
				}()
			}
		}
		wg.Wait()
		next = next.Add(iv)
		jitter := time.Duration(rand.Int64N(int64(iv/10) + 1))
		wait := time.Until(next) + jitter
		if wait < 0 {
			// The round overran its interval: skip the missed ticks.
			next = time.Now()
			wait = jitter
		}
		timer.Reset(wait)
	}
}

func (s *scheduler) pollTask(ctx context.Context, spec *PollingSpec, task *PollTask) {
	// A poll gets at most its interval.
	pctx, cancel := context.WithTimeout(ctx, spec.Interval)
	defer cancel()
	log := s.log.With("polling", spec.Name, "pollster", task.PollsterID)
	resources, err := s.resources(pctx, task)
	if err != nil {
		s.m.sourceErrors.WithLabelValues(spec.Name, task.PollsterID, "discover").Inc()
		log.Warn("discovery failed", "error", err)
		if len(resources) == 0 && (len(task.Discovery) > 0 || len(task.Resources) > 0) {
			return
		}
	}
	if len(resources) == 0 && (len(task.Discovery) > 0 || len(task.Resources) > 0) {
		return // nothing of ours to poll this round
	}
	start := time.Now()
	res, err := task.Poller.Poll(pctx, pollster.Request{Meters: task.Meters, Resources: resources})
	s.m.pollDuration.WithLabelValues(task.PollsterID).Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.m.sourceErrors.WithLabelValues(spec.Name, task.PollsterID, "poll").Inc()
		log.Warn("poll failed", "error", err)
		return
	}
	if len(res.Errors) > 0 {
		s.m.sourceErrors.WithLabelValues(spec.Name, task.PollsterID, "resource").Add(float64(len(res.Errors)))
		log.Debug("poll had per-resource errors", "count", len(res.Errors), "first", res.Errors[0].Error())
	}
	if task.Keep != nil {
		kept := res.Samples[:0]
		for _, sm := range res.Samples {
			if task.Keep(sm.Name) {
				kept = append(kept, sm)
			}
		}
		res.Samples = kept
	}
	if len(res.Samples) == 0 {
		return
	}
	s.m.sourceSamples.WithLabelValues(spec.Name).Add(float64(len(res.Samples)))
	b, err := rawbatch.FromSamples(res.Samples)
	if err != nil {
		log.Warn("poll result cannot be encoded; samples dropped", "error", err, "samples", len(res.Samples))
		s.m.sourceErrors.WithLabelValues(spec.Name, task.PollsterID, "encode").Inc()
		return
	}
	for _, name := range spec.Sinks {
		if !s.sinks[name].send(pctx, job{batch: b}) {
			log.Warn("sink busy past the poll deadline; samples dropped", "sink", name, "samples", len(res.Samples))
			for _, q := range s.sinks[name].queues {
				q.m.dropped.Add(float64(len(res.Samples)))
			}
		}
	}
}

func (s *scheduler) resources(ctx context.Context, task *PollTask) ([]sample.Resource, error) {
	var all []sample.Resource
	var errs []error
	all = append(all, task.Resources...)
	for _, method := range task.Discovery {
		name, param, _ := strings.Cut(method, ":")
		rs, err := task.Poller.Discover(ctx, name, param)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, rs...)
	}
	owned := all[:0]
	for _, r := range all {
		if s.owner.Owns(task.PollsterID, r) {
			owned = append(owned, r)
		}
	}
	return owned, errors.Join(errs...)
}
