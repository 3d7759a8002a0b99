package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/sdk/sample"
)

// instances are the running plugin instances by ID, with the config each
// was launched with, so a reload keeps those that did not change.
type instances map[string]*running

type running struct {
	inst   *pluginmgr.Instance
	path   string
	sha    string
	config []byte
}

func (r *running) same(p *config.Plugin, b *pluginmgr.Binary) bool {
	return r.path == b.Path && r.sha == b.SHA256 && bytes.Equal(r.config, p.Config)
}

// launchAll starts every plugin cfg references that keep does not already
// run unchanged. It returns the full set for cfg, plus what of keep is no
// longer needed. Plugin config errors come back as diagnostics.
func launchAll(ctx context.Context, m *pluginmgr.Manager, cfg *config.Config, keep instances) (instances, []*running, hcl.Diagnostics, error) {
	next := instances{}
	var diags hcl.Diagnostics
	var errs []error
	for _, p := range cfg.AllPlugins() {
		if isBuiltin(p) {
			continue
		}
		b, err := binaryOf(m, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r, ok := keep[p.ID]; ok && r.same(p, b) {
			next[p.ID] = r
			continue
		}
		if r, ok := keep[p.ID]; ok {
			// Changed: its old instance must go before the new one takes the ID.
			if err := r.inst.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", p.ID, err))
			}
			delete(keep, p.ID)
		}
		inst, err := m.Launch(ctx, p.ID, p.Kind, p.Name, p.Config)
		var ce *pluginmgr.ConfigError
		switch {
		case errors.As(err, &ce):
			diags = append(diags, cfg.PluginDiagnostics(p, ce.Errors)...)
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("launch %s: %w", p.ID, err))
			continue
		}
		next[p.ID] = &running{inst: inst, path: b.Path, sha: b.SHA256, config: p.Config}
	}
	var unused []*running
	for id, r := range keep {
		if _, ok := next[id]; !ok {
			unused = append(unused, r)
		}
	}
	return next, unused, diags, errors.Join(errs...)
}

func binaryOf(m *pluginmgr.Manager, p *config.Plugin) (*pluginmgr.Binary, error) {
	for _, b := range m.Binaries() {
		if b.Kind == p.Kind && b.Name == p.Name {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s %q: %w", p.Kind, p.Name, pluginmgr.ErrPluginNotFound)
}

// graphSpec turns a resolved config and its instances into the engine's
// spec; store is the built-in store publisher.
func graphSpec(cfg *config.Config, insts instances, store storePublisher) pipeline.Spec {
	var spec pipeline.Spec
	for _, s := range cfg.Sinks {
		ss := pipeline.SinkSpec{Name: s.Name}
		for _, t := range s.Transforms {
			ss.Transformers = append(ss.Transformers, pipeline.NamedTransformer{ID: t.ID, Transformer: transformerOf{insts[t.ID].inst}})
		}
		for _, p := range s.Publishers {
			var pub pipeline.Publisher = store
			if !isBuiltin(p) {
				pub = publisherOf{insts[p.ID].inst}
			}
			ss.Publishers = append(ss.Publishers, pipeline.NamedPublisher{ID: p.ID, Publisher: pub,
				Disk: diskQueue(cfg.Agent.DataDir, s.Name, p)})
		}
		spec.Sinks = append(spec.Sinks, ss)
	}
	for _, l := range cfg.Listeners {
		spec.Listeners = append(spec.Listeners, pipeline.ListenerSpec{ID: l.ID, Source: listenerOf{insts[l.ID].inst}, Sinks: refNames(l.Sinks)})
	}
	for _, pl := range cfg.Polling {
		ps := pipeline.PollingSpec{Name: pl.Name, Interval: pl.Interval, Sinks: refNames(pl.Sinks)}
		for _, p := range cfg.Pollsters {
			task := pipeline.PollTask{PollsterID: p.ID, Poller: pollerOf{insts[p.ID].inst}}
			for _, m := range p.Info.Meters {
				if pl.Meters.Match(m.Name) {
					task.Meters = append(task.Meters, m.Name)
				}
			}
			for _, d := range pl.Discovery {
				if owner, method, _ := strings.Cut(d.Name, "."); owner == p.Name {
					task.Discovery = append(task.Discovery, method)
				}
			}
			// A pollster with config-defined meters takes part when a
			// declared meter matches, when the block names its discovery,
			// or (if it offers no discovery, so static resources are how
			// it is given targets) when the block has static resources and
			// a pattern no declared meter matches. Its configured meters
			// are selected by the block's patterns, and what it returns is
			// filtered by the block's rules.
			byResources := len(pl.Resources) > 0 && len(p.Info.Discovery) == 0 && unmatched(cfg, pl)
			if p.Info.DynamicMeters && (len(task.Meters) > 0 || len(task.Discovery) > 0 || byResources) {
				task.Meters = dynamicPatterns(pl)
				task.Keep = pl.Meters.Match
			}
			if len(task.Meters) == 0 {
				continue
			}
			for _, r := range pl.Resources {
				task.Resources = append(task.Resources, sample.Resource{ID: r, Endpoint: r})
			}
			ps.Tasks = append(ps.Tasks, task)
		}
		spec.Polling = append(spec.Polling, ps)
	}
	return spec
}

// diskQueue is the disk queue of publish block p in sink, or nil for a
// queue in memory: plugins queue on disk unless their queue block says
// type = "memory"; the built-in store queues in memory (it is durable
// itself) unless it says type = "disk".
func diskQueue(dataDir, sink string, p *config.Plugin) *pipeline.DiskQueue {
	q := p.Queue
	if q == nil {
		q = &config.Queue{}
	}
	typ := q.Type
	if typ == "" {
		typ = "disk"
		if isBuiltin(p) {
			typ = "memory"
		}
	}
	if typ != "disk" {
		return nil
	}
	// publisher.<name>.<sink>[.n] -> <name>[.n]
	dir := p.Name + strings.TrimPrefix(p.ID, "publisher."+p.Name+"."+sink)
	full := pipeline.DropOldest
	if q.Block {
		full = pipeline.Block
	}
	return &pipeline.DiskQueue{Dir: filepath.Join(dataDir, "queues", sink, dir), MaxBytes: q.MaxBytes, Full: full, SyncInterval: q.SyncInterval}
}

func refNames(refs []config.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}

// dynamicPatterns is what a DynamicMeters pollster receives as
// Request.Meters: the block's inclusion patterns, or "*" when the block
// selects by exclusion only.
func dynamicPatterns(pl *config.Polling) []string {
	if in := pl.Meters.Inclusions(); len(in) > 0 {
		return in
	}
	return []string{"*"}
}

// unmatched reports whether a polling block has an inclusion pattern that
// no pollster's declared meters match: one only a configured meter can
// satisfy.
func unmatched(cfg *config.Config, pl *config.Polling) bool {
	for _, pat := range pl.Meters.Inclusions() {
		found := false
		for _, p := range cfg.Pollsters {
			for _, m := range p.Info.Meters {
				found = found || config.MatchGlob(pat, m.Name)
			}
		}
		if !found {
			return true
		}
	}
	return false
}
