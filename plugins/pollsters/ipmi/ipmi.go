package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
)

var (
	_ pollster.Pollster    = (*ipmi)(nil)
	_ base.CounterReporter = (*ipmi)(nil)
	_ base.Closer          = (*ipmi)(nil)
)

// ErrNotRemote is returned for resources given to a pollster in local mode.
var ErrNotRemote = errors.New(`resources are polled only with mode = "remote"`)

// ipmi is the pollster. Poll is never called concurrently, but it polls
// BMCs in parallel, each BMC from one goroutine; mu guards the map only.
type ipmi struct {
	s   settings
	log hclog.Logger
	now func() time.Time

	mu   sync.Mutex
	bmcs map[string]*bmc

	stats struct {
		polls, unreachable, recovered, badResources, sensorErrors, probes, unsupported atomic.Uint64
	}
}

func newIPMI(c config, log hclog.Logger) (*ipmi, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	return &ipmi{s: s, log: log, now: time.Now, bmcs: map[string]*bmc{}}, nil
}

// Counters implements base.CounterReporter.
func (p *ipmi) Counters() map[string]uint64 {
	return map[string]uint64{
		"bmc_polls":          p.stats.polls.Load(),
		"bmc_unreachable":    p.stats.unreachable.Load(),
		"bmc_recovered":      p.stats.recovered.Load(),
		"bad_resources":      p.stats.badResources.Load(),
		"node_meter_errors":  p.stats.sensorErrors.Load(),
		"capability_probes":  p.stats.probes.Load(),
		"capability_missing": p.stats.unsupported.Load(),
	}
}

// Close ends every session.
func (p *ipmi) Close(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, b := range p.bmcs {
		b.close()
		delete(p.bmcs, k)
	}
	return nil
}

// Poll reads each BMC of the round: the local one in local mode, else
// exactly the ipmi:// resources the host hands over.
func (p *ipmi) Poll(ctx context.Context, req pollster.Request) ([]sample.Sample, error) {
	want := map[string]bool{}
	for _, m := range req.Meters {
		want[m] = true
	}
	var targets []target
	var errs []error
	if p.s.mode == modeLocal {
		targets = append(targets, localTarget(p.s))
		for _, r := range req.Resources {
			errs = append(errs, &pollster.ResourceError{ResourceID: redact(r.ID), Err: ErrNotRemote})
		}
	} else {
		seen := map[string]bool{}
		for _, r := range req.Resources {
			t, err := parseTarget(r, p.s)
			if err != nil {
				p.stats.badResources.Add(1)
				errs = append(errs, &pollster.ResourceError{ResourceID: redact(r.ID), Err: err})
				continue
			}
			if !seen[t.key] { // a BMC listed twice is polled once
				seen[t.key] = true
				targets = append(targets, t)
			}
		}
	}

	type result struct {
		samples []sample.Sample
		err     error
	}
	results := make([]result, len(targets))
	sem := make(chan struct{}, p.s.parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		b := p.bmc(t)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i].samples, results[i].err = p.pollBMC(ctx, b, want)
		}()
	}
	wg.Wait()
	p.prune()
	var out []sample.Sample
	for _, r := range results {
		out = append(out, r.samples...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return out, errors.Join(errs...)
}

// bmc returns the state of t's BMC, creating it on first sight. The key
// includes the credentials, so a changed password starts a new session.
func (p *ipmi) bmc(t target) *bmc {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.bmcs[t.key]
	if !ok {
		b = &bmc{t: t}
		p.bmcs[t.key] = b
	}
	b.t.node = t.node
	b.seen = p.now()
	return b
}

// staleAfter is how long the state of a BMC no longer handed to Poll (its
// resource removed, or owned by another agent) is kept.
const staleAfter = time.Hour

// prune closes and forgets BMCs not polled for staleAfter.
func (p *ipmi) prune() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for k, b := range p.bmcs {
		if now.Sub(b.seen) > staleAfter {
			b.close()
			delete(p.bmcs, k)
		}
	}
}

// pollBMC reads one BMC. Reaching it or not is logged once per change.
func (p *ipmi) pollBMC(ctx context.Context, b *bmc, want map[string]bool) ([]sample.Sample, error) {
	p.stats.polls.Add(1)
	log := p.log.With("bmc", b.t.display, "node", b.t.node)
	now := p.now().UTC()
	var out []sample.Sample
	var errs []error

	wantSensors := want[meterTemperature] || want[meterFan] || want[meterVoltage] || want[meterCurrent]
	var readings []reading
	err := b.do(ctx, p.s, func(c *client.Client) error {
		if !wantSensors {
			// Still prove the BMC answers, so reachability is tracked.
			_, err := c.GetDeviceID(ctx)
			return err
		}
		if err := b.loadSDRs(ctx, c); err != nil {
			return err
		}
		var err error
		readings, err = b.readSensors(ctx, c, want)
		return err
	})
	if err != nil {
		if _, answered := completionCode(err); !answered {
			if !b.down || !b.checked {
				log.Warn("bmc unreachable", "error", err)
			}
			p.stats.unreachable.Add(1)
			b.down, b.checked = true, true
			return nil, &pollster.ResourceError{ResourceID: b.t.node, Err: fmt.Errorf("poll %s: %w", b.t.display, err)}
		}
		errs = append(errs, &pollster.ResourceError{ResourceID: b.t.node, Err: fmt.Errorf("poll %s: %w", b.t.display, err)})
	}
	if b.down {
		log.Info("bmc reachable again")
		p.stats.recovered.Add(1)
	}
	b.down, b.checked = false, true

	for _, r := range readings {
		out = append(out, p.sample(r.def.meter, r.def.unit, r.value, b.t.node+"-"+sensorID(r.def.name), b.t.node, now, map[string]string{"sensor": r.def.name}))
	}
	node, err := p.pollNode(ctx, b, want, now, log)
	out = append(out, node...)
	if err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// sensorID is Ceilometer's transform_id: lower case, spaces to underscores.
func sensorID(name string) string { return strings.ReplaceAll(strings.ToLower(name), " ", "_") }

func (p *ipmi) sample(name, unit string, v float64, resourceID, node string, now time.Time, extra map[string]string) sample.Sample {
	md := map[string]string{"node": node}
	for k, v := range extra {
		md[k] = v
	}
	return sample.Sample{
		Name: name, Type: sample.Gauge, Unit: unit, Volume: v, ResourceID: resourceID,
		Timestamp: now, Source: "altimeter", MessageID: sample.NewMessageID(), Metadata: md,
	}
}

var nodeMeters = []string{meterNodePower, meterNodeTemperature, meterNodeOutletTemp, meterNodeAirflow, meterNodeCUPS, meterNodeCPUUtil, meterNodeMemUtil, meterNodeIOUtil}

// pollNode reads the node meters: Intel Node Manager where the BMC has it
// (probed once), system power from DCMI otherwise (probed once). A probe the
// BMC answers with "invalid command" is never repeated; one that fails
// otherwise is retried after probe_backoff, doubling up to probe_backoff_max.
func (p *ipmi) pollNode(ctx context.Context, b *bmc, want map[string]bool, now time.Time, log hclog.Logger) ([]sample.Sample, error) {
	wanted := false
	for _, m := range nodeMeters {
		wanted = wanted || want[m]
	}
	if !wanted {
		return nil, nil
	}
	var out []sample.Sample
	var errs []error
	fail := func(meter string, err error) {
		p.stats.sensorErrors.Add(1)
		errs = append(errs, &pollster.ResourceError{ResourceID: b.t.node, Meter: meter, Err: err})
	}
	add := func(meter, unit string, v float64, source string) {
		out = append(out, p.sample(meter, unit, v, b.t.node, b.t.node, now, map[string]string{"source": source}))
	}

	p.probe(ctx, b, &b.nm, "node_manager", log, func(c *client.Client) error { return b.probeNM(ctx, c) })
	if b.nm.state == capSupported {
		stats := []struct {
			meter, unit string
			mode        byte
			minVersion  uint8
		}{
			{meterNodePower, "W", nmStatPower, 1},
			{meterNodeTemperature, "C", nmStatInletTemp, 1},
			{meterNodeOutletTemp, "C", nmStatOutletTemp, 5},
			{meterNodeAirflow, "CFM", nmStatAirflow, 5},
		}
		for _, st := range stats {
			if !want[st.meter] || b.nmVersion < st.minVersion {
				continue
			}
			var v float64
			err := b.do(ctx, p.s, func(c *client.Client) (err error) { v, err = nmStatistic(ctx, c, st.mode); return err })
			if err != nil {
				fail(st.meter, err)
				continue
			}
			add(st.meter, st.unit, v, "node_manager")
		}
		if b.nmVersion >= 5 && want[meterNodeCUPS] {
			var v []float64
			err := b.do(ctx, p.s, func(c *client.Client) (err error) { v, err = nmCUPS(ctx, c, nmCUPSIndex); return err })
			if err != nil {
				fail(meterNodeCUPS, err)
			} else {
				add(meterNodeCUPS, "CUPS", v[0], "node_manager")
			}
		}
		if b.nmVersion >= 5 && (want[meterNodeCPUUtil] || want[meterNodeMemUtil] || want[meterNodeIOUtil]) {
			var v []float64
			err := b.do(ctx, p.s, func(c *client.Client) (err error) { v, err = nmCUPS(ctx, c, nmCUPSUtil); return err })
			for i, m := range []string{meterNodeCPUUtil, meterNodeMemUtil, meterNodeIOUtil} {
				switch {
				case !want[m]:
				case err != nil:
					fail(m, err)
				default:
					add(m, "%", v[i], "node_manager")
				}
			}
		}
	}

	if want[meterNodePower] && b.nm.state != capSupported {
		var v float64
		active := false
		read := func(c *client.Client) error {
			r, err := c.GetDCMIPowerReading(ctx)
			if err != nil {
				return err
			}
			v, active = float64(r.CurrentPower), r.PowerMeasurementActive
			return nil
		}
		switch b.dcmi.state {
		case capSupported:
			err := b.do(ctx, p.s, read)
			switch {
			case isUnsupported(err):
				b.dcmi.state = capUnsupported
				p.stats.unsupported.Add(1)
				log.Info("bmc stopped answering dcmi; not asking again", "error", err)
			case err != nil:
				fail(meterNodePower, fmt.Errorf("dcmi power reading: %w", err))
			}
		case capUnknown:
			// The probe is the first reading.
			p.probe(ctx, b, &b.dcmi, "dcmi", log, read)
		}
		if active {
			add(meterNodePower, "W", v, "dcmi")
		}
	}
	return out, errors.Join(errs...)
}

// probe runs a capability probe when one is due and records its outcome.
func (p *ipmi) probe(ctx context.Context, b *bmc, c *capability, name string, log hclog.Logger, fn func(*client.Client) error) {
	now := p.now()
	if !c.due(now) {
		return
	}
	p.stats.probes.Add(1)
	err := b.do(ctx, p.s, func(cl *client.Client) error {
		err := fn(cl)
		if err == nil && c.state == capUnknown {
			c.state = capSupported
		}
		return err
	})
	switch {
	case err == nil:
		if c.state == capSupported {
			log.Info("bmc supports " + name)
		} else {
			p.stats.unsupported.Add(1)
			log.Info("bmc lacks " + name + "; not asking again")
		}
	case isUnsupported(err):
		c.state = capUnsupported
		p.stats.unsupported.Add(1)
		log.Info("bmc lacks "+name+"; not asking again", "error", err)
	default:
		c.failed(now, p.s.backoff, p.s.backoffMax)
		log.Debug("probe failed; retrying later", "capability", name, "error", err, "retry_at", c.next)
	}
}
