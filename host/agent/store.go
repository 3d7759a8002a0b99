package agent

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// StorePublisher is the name of the built-in publisher that writes into the
// embedded store: `publish "store" {}` in a sink. It runs inside the host,
// so it needs no binary.
const StorePublisher = "store"

// isBuiltin reports whether a plugin block names a built-in.
func isBuiltin(p *config.Plugin) bool {
	return p.Kind == base.Publisher && p.Name == StorePublisher
}

// describeBuiltin answers Describe for the built-ins, falling back to
// describe for real plugins.
func describeBuiltin(describe config.DescribeFunc) config.DescribeFunc {
	return func(k base.Kind, name string) (*base.Info, error) {
		if k == base.Publisher && name == StorePublisher {
			s, err := schema.FromStruct(struct{}{})
			if err != nil {
				return nil, err
			}
			return &base.Info{
				Kind: base.Publisher, Name: StorePublisher, Version: "builtin",
				Description: "Writes samples and events into the embedded store that the REST API serves.",
				Schema:      s,
			}, nil
		}
		return describe(k, name)
	}
}

// storeOptions turns the store block into the engines' options: the
// built-in policies, replaced or extended by the block's, and its rules
// followed by "*" -> medium.
func storeOptions(cfg *config.Config) store.Options {
	var o store.Options
	o.Series.Sync = true
	o.Series.Policies = series.DefaultPolicies()
	o.Series.OutOfOrder = config.DefaultOutOfOrder
	st := cfg.Store
	if st != nil {
		o.Series.OutOfOrder = st.OutOfOrder
		o.EventRetention = st.EventRetention
		o.MinFree = uint64(st.MinFreeMB) << 20 //nolint:gosec // positive (config)
		for _, p := range st.Policies {
			sp := series.Policy{Name: p.Name, Aggregates: p.Aggregates, RawRetention: p.RawRetention}
			for _, a := range p.Archives {
				sp.Archives = append(sp.Archives, series.Archive{Granularity: a.Granularity, Points: a.Points})
			}
			replaced := false
			for i := range o.Series.Policies {
				if o.Series.Policies[i].Name == p.Name {
					o.Series.Policies[i], replaced = sp, true
				}
			}
			if !replaced {
				o.Series.Policies = append(o.Series.Policies, sp)
			}
		}
		for _, r := range st.Rules {
			for _, m := range r.Meters {
				o.Series.Rules = append(o.Series.Rules, series.Rule{Pattern: m.Name, Policy: r.Policy.Name})
			}
		}
	}
	o.Series.Rules = append(o.Series.Rules, series.Rule{Pattern: "*", Policy: config.DefaultPolicy})
	return o
}

// storePublisher is the built-in store publisher. onEvents, when set, is
// handed the events once stored (the event alarms). dec, when set, decodes
// the batches (what it interns kept from batch to batch); without it each
// batch gets a fresh decoder.
type storePublisher struct {
	s        *store.Store
	onEvents func(context.Context, []sample.Event)
	dec      *rawbatch.Decoder
}

// Publish writes the batch's samples. Bad samples are rejected one by one
// and the rest stored; a store failure, such as a full disk
// (store.ErrUnavailable), asks for a retry of the whole batch, which dedup
// makes safe: listeners' brokers keep their deliveries and polled samples
// stay queued until the store takes them.
func (p storePublisher) Publish(ctx context.Context, rb *rawbatch.Batch) (publisher.Result, error) {
	// The one place in the pipeline where the host looks inside a batch:
	// decoded straight into samples and events, without the generated
	// messages in between (strings that repeat from sample to sample,
	// interned).
	dec := p.dec
	if dec == nil {
		dec = rawbatch.NewDecoder()
	}
	b, err := dec.Decode(rb)
	if err != nil {
		return publisher.Result{Outcome: base.Rejected, Reason: err.Error()}, nil
	}
	samples := b.Samples
	res := publisher.Result{Outcome: base.Accepted}
	good := samples[:0]
	for i := range samples {
		if err := store.Validate(&samples[i]); err != nil {
			res.Items = append(res.Items, publisher.ItemOutcome{Index: i, Outcome: base.Rejected, Reason: err.Error()})
			continue
		}
		good = append(good, samples[i])
	}
	events := b.Events[:0]
	for i := range b.Events {
		if err := store.ValidateEvent(&b.Events[i]); err != nil {
			res.Items = append(res.Items, publisher.ItemOutcome{Index: len(samples) + i, Outcome: base.Rejected, Reason: err.Error()})
			continue
		}
		events = append(events, b.Events[i])
	}
	// Samples (the series engine, then the resource index) and events (the
	// index's event table) are written side by side: the batch waits for
	// the slower of the two, not for their sum. Both must be stored before
	// the batch is accepted; a retry rewrites both, and both deduplicate
	// by message_id.
	var evErr error
	var wg sync.WaitGroup
	if len(events) > 0 {
		wg.Go(func() { evErr = p.s.WriteEvents(ctx, events) })
	}
	err = p.s.Write(ctx, good)
	wg.Wait()
	if err = cmp.Or(err, evErr); err != nil {
		return publisher.Result{Outcome: base.Retry, Reason: err.Error()}, nil
	}
	if len(events) > 0 && p.onEvents != nil {
		p.onEvents(ctx, events)
	}
	return res, nil
}

// openStore opens the store under the data dir.
func openStore(ctx context.Context, dataDir string, cfg *config.Config, a *Agent) (*store.Store, error) {
	o := storeOptions(cfg)
	o.Logger = a.log
	s, err := store.Open(ctx, dataDir+"/store", o)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}
