package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/gosnmp/gosnmp"
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

type config struct {
	Concurrency      int        `hcl:"concurrency,optional" desc:"Targets polled at the same time (worker pool size)."`
	Timeout          string     `hcl:"timeout,optional" desc:"Wait for one SNMP response before a retry, as a duration."`
	Retries          int        `hcl:"retries,optional" desc:"Retries of an unanswered SNMP request."`
	TargetTimeout    string     `hcl:"target_timeout,optional" desc:"Bound on one target's whole round (all its requests), as a duration."`
	MaxRepetitions   int        `hcl:"max_repetitions,optional" desc:"Rows per column asked in each GETBULK of a table walk."`
	Community        string     `hcl:"community,optional" desc:"Default v1/v2c community of targets whose URL names none."`
	CommunityEnv     string     `hcl:"community_env,optional" desc:"Environment variable holding the default community."`
	CommunityFile    string     `hcl:"community_file,optional" desc:"File holding the default community."`
	User             string     `hcl:"user,optional" desc:"Default v3 user of targets whose URL names none."`
	PasswordEnv      string     `hcl:"password_env,optional" desc:"Environment variable holding the default v3 auth password."`
	PasswordFile     string     `hcl:"password_file,optional" desc:"File holding the default v3 auth password."`
	PrivPasswordEnv  string     `hcl:"priv_password_env,optional" desc:"Environment variable holding the default v3 privacy password."`
	PrivPasswordFile string     `hcl:"priv_password_file,optional" desc:"File holding the default v3 privacy password."`
	AuthProtocol     string     `hcl:"auth_protocol,optional" desc:"Default v3 auth protocol: md5, sha, sha224, sha256, sha384, sha512."`
	PrivProtocol     string     `hcl:"priv_protocol,optional" desc:"Default v3 privacy protocol: des, aes, aes192, aes256, aes192c, aes256c."`
	DefaultMeters    bool       `hcl:"default_meters,optional" desc:"Include the built-in hardware.* meters; meter blocks add to them or replace one of the same name."`
	Meters           []meterDef `hcl:"meter,block"`
}

func defaultConfig() config {
	return config{
		Concurrency: 16, Timeout: "1s", Retries: 1, TargetTimeout: "10s", MaxRepetitions: 25,
		DefaultMeters: true,
	}
}

// snmpPollster polls SNMP agents named by the request's resources. Poll is
// never called concurrently (SDK contract); Counters may be, so the
// counters are atomics.
type snmpPollster struct {
	log           hclog.Logger
	concurrency   int
	targetTimeout time.Duration
	defaults      secretDefaults
	meters        map[string]*meter
	custom        []*meter // meters the host cannot ask for by name (see README)
	plans         map[string]*plan
	targets       map[string]*targetState
	gen           uint64
	stats         stats

	// onTargetDone, when set (tests), is called by the worker after each
	// target's round.
	onTargetDone func(resourceID string, took time.Duration, err error)
}

var (
	_ pollster.Pollster    = (*snmpPollster)(nil)
	_ base.CounterReporter = (*snmpPollster)(nil)
	_ base.Closer          = (*snmpPollster)(nil)
)

type stats struct {
	polls, targetsPolled, targetErrors, timeouts, authFailures, refused, malformed,
	canceled, badResources, missingValues, badValues, wentDown, recovered, samples atomic.Uint64
}

// targetState is what the pollster keeps about one resource between polls.
type targetState struct {
	t        *target
	parseErr *urlError
	g        *gosnmp.GoSNMP // open session, reused while it works
	state    string         // "" (never polled), "up", or a failure class
	gen      uint64
}

func newSNMP(c config, log hclog.Logger) (*snmpPollster, error) {
	var errs []error
	bad := func(attr, detail string) { errs = append(errs, schema.AttrError(attr, detail)) }
	if c.Concurrency < 1 || c.Concurrency > 4096 {
		bad("concurrency", "must be from 1 to 4096")
	}
	dur := func(attr, s string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad(attr, fmt.Sprintf("%q is not a positive duration such as \"2s\"", s))
		}
		return d
	}
	timeout := dur("timeout", c.Timeout)
	targetTimeout := dur("target_timeout", c.TargetTimeout)
	if c.Retries < 0 || c.Retries > 10 {
		bad("retries", "must be from 0 to 10")
	}
	if c.MaxRepetitions < 1 || c.MaxRepetitions > 255 {
		bad("max_repetitions", "must be from 1 to 255")
	}
	p := &snmpPollster{
		log: log, concurrency: c.Concurrency, targetTimeout: targetTimeout,
		meters: map[string]*meter{}, plans: map[string]*plan{}, targets: map[string]*targetState{},
	}
	p.defaults = secretDefaults{
		user: c.User, authProto: c.AuthProtocol, privProto: c.PrivProtocol,
		timeout: timeout, retries: c.Retries, maxRepetitions: c.MaxRepetitions,
	}
	var err error
	if p.defaults.community, err = schema.Secret("community", c.Community, c.CommunityEnv, c.CommunityFile); err != nil {
		errs = append(errs, err)
	}
	if p.defaults.authPass, err = schema.Secret("password", "", c.PasswordEnv, c.PasswordFile); err != nil {
		errs = append(errs, err)
	}
	if p.defaults.privPass, err = schema.Secret("priv_password", "", c.PrivPasswordEnv, c.PrivPasswordFile); err != nil {
		errs = append(errs, err)
	}
	if c.AuthProtocol != "" {
		if _, err := authProtocol(c.AuthProtocol); err != nil {
			bad("auth_protocol", err.Error())
		}
	}
	if c.PrivProtocol != "" {
		if _, err := privProtocol(c.PrivProtocol); err != nil {
			bad("priv_protocol", err.Error())
		}
	}
	if c.DefaultMeters {
		for i, d := range defaultMeters() {
			m, err := compileMeter(d, fmt.Sprintf("default.%d.", i))
			if err != nil {
				return nil, fmt.Errorf("built-in meter %s: %w", d.Name, err) // programmer error
			}
			p.meters[m.info.Name] = m
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Meters {
		path := fmt.Sprintf("meter.%d.", i)
		if seen[d.Name] {
			bad(path+"name", fmt.Sprintf("meter %q is defined twice", d.Name))
			continue
		}
		seen[d.Name] = true
		m, err := compileMeter(d, path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.custom = !isDefault(m.info.Name)
		p.meters[m.info.Name] = m
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(p.meters) == 0 {
		return nil, schema.AttrError("default_meters", "no meters left: keep default_meters = true or add meter blocks")
	}
	for _, m := range p.meters {
		if m.custom {
			p.custom = append(p.custom, m)
		}
	}
	sort.Slice(p.custom, func(i, j int) bool { return p.custom[i].info.Name < p.custom[j].info.Name })
	return p, nil
}

func isDefault(name string) bool {
	for _, d := range defaultMeters() {
		if d.Name == name {
			return true
		}
	}
	return false
}

// plan is what a round reads from each target for a set of meters: every
// scalar OID in batched GETs and every column in shared GETBULK walks.
type plan struct {
	meters  []*meter
	scalars []string
	columns []string
}

func newPlan(ms []*meter) *plan {
	p := &plan{meters: ms}
	seenS, seenC := map[string]bool{}, map[string]bool{}
	add := func(table bool, oid string) {
		if table {
			if !seenC[oid] {
				seenC[oid] = true
				p.columns = append(p.columns, oid)
			}
			return
		}
		if !seenS[oid] {
			seenS[oid] = true
			p.scalars = append(p.scalars, oid)
		}
	}
	for _, m := range ms {
		add(m.table, m.oid)
		for _, v := range m.vars {
			add(m.table, v.oid)
		}
		for _, md := range m.meta {
			add(m.table, md.oid)
		}
	}
	return p
}

// selectMeters resolves the requested names (plus the custom meters, which
// the host cannot route by name) into a cached plan.
func (p *snmpPollster) selectMeters(names []string) (*plan, []error) {
	var errs []error
	// names are meter names or, as the host sends them to a pollster with
	// DynamicMeters, the polling block's patterns (globs, "*").
	want := map[string]*meter{}
	for _, n := range names {
		found := false
		for name, m := range p.meters {
			if ok, _ := path.Match(n, name); ok || n == name {
				want[name], found = m, true
			}
		}
		if !found && !strings.ContainsAny(n, "*?[") {
			errs = append(errs, &pollster.ResourceError{Meter: n, Err: errUnknownMeter})
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	key := strings.Join(keys, "\x00")
	if pl, ok := p.plans[key]; ok {
		return pl, errs
	}
	ms := make([]*meter, 0, len(keys))
	for _, k := range keys {
		ms = append(ms, want[k])
	}
	pl := newPlan(ms)
	if len(p.plans) > 64 { // the host asks with few distinct meter sets; bound it anyway
		clear(p.plans)
	}
	p.plans[key] = pl
	return pl, errs
}

// targetResult is one target's round.
type targetResult struct {
	samples []sample.Sample
	errs    []error // per-meter problems (bad values)
	err     error   // the target failed as a whole
	class   string
}

// Poll polls every resource of the request concurrently (at most
// concurrency at a time), each bounded by target_timeout and by ctx.
// Targets that failed last round go last, so a dead agent never holds a
// worker a live one waits for.
func (p *snmpPollster) Poll(ctx context.Context, req pollster.Request) ([]sample.Sample, error) {
	p.stats.polls.Add(1)
	p.gen++
	pl, errs := p.selectMeters(req.Meters)
	var work []*targetState
	for _, r := range req.Resources {
		raw := r.Endpoint
		if raw == "" {
			raw = r.ID
		}
		st, ok := p.targets[raw]
		if !ok {
			st = &targetState{}
			t, err := parseTarget(raw, p.defaults)
			if err != nil {
				var ue *urlError
				errors.As(err, &ue)
				st.parseErr = ue
				p.log.Error("bad snmp resource", "host", ue.host, "error", ue)
			}
			st.t = t
			p.targets[raw] = st
		}
		if st.gen == p.gen {
			continue // listed twice
		}
		st.gen = p.gen
		if st.parseErr != nil {
			p.stats.badResources.Add(1)
			errs = append(errs, &pollster.ResourceError{ResourceID: st.parseErr.host, Err: st.parseErr})
			continue
		}
		work = append(work, st)
	}
	for raw, st := range p.targets {
		if st.gen != p.gen {
			st.close()
			delete(p.targets, raw)
		}
	}
	if len(pl.meters) == 0 || len(work) == 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(work, func(i, j int) bool { return work[i].up() && !work[j].up() })

	results := make([]targetResult, len(work))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(p.concurrency, len(work)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = p.pollTarget(ctx, work[i], pl)
			}
		}()
	}
	next := 0
dispatch:
	for ; next < len(work); next++ {
		select {
		case jobs <- next:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	for i := next; i < len(work); i++ {
		results[i] = targetResult{class: "canceled", err: fmt.Errorf("%w: %v", errCanceled, ctx.Err())}
	}

	var out []sample.Sample
	for i, r := range results {
		st := work[i]
		p.transition(st, r)
		out = append(out, r.samples...)
		errs = append(errs, r.errs...)
		if r.err != nil {
			errs = append(errs, &pollster.ResourceError{ResourceID: st.t.resourceID, Err: fmt.Errorf("poll %s: %w", st.t.display(), r.err)})
		}
	}
	p.stats.samples.Add(uint64(len(out)))
	return out, errors.Join(errs...)
}

func (st *targetState) up() bool { return st.state == "" || st.state == "up" }

func (st *targetState) close() {
	if st.g != nil && st.g.Conn != nil {
		_ = st.g.Conn.Close()
	}
	st.g = nil
}

// transition counts a target's round and logs when its state changes:
// once when it starts failing (or fails differently), once when it
// recovers, never on every poll.
func (p *snmpPollster) transition(st *targetState, r targetResult) {
	host := st.t.display()
	if r.err == nil {
		if st.state != "" && st.state != "up" {
			p.stats.recovered.Add(1)
			p.log.Info("snmp target recovered", "host", host, "was", st.state)
		}
		st.state = "up"
		return
	}
	if r.class == "canceled" {
		p.stats.canceled.Add(1)
		return // the round ended, not the target: keep its state
	}
	p.stats.targetErrors.Add(1)
	switch r.class {
	case "timeout":
		p.stats.timeouts.Add(1)
	case "auth":
		p.stats.authFailures.Add(1)
	case "refused":
		p.stats.refused.Add(1)
	case "malformed":
		p.stats.malformed.Add(1)
	}
	if st.state != r.class {
		if st.up() {
			p.stats.wentDown.Add(1)
		}
		p.log.Warn("snmp target failing", "host", host, "state", r.class, "error", r.err)
		st.state = r.class
	}
}

// pollTarget runs one target's round under target_timeout.
func (p *snmpPollster) pollTarget(ctx context.Context, st *targetState, pl *plan) (res targetResult) {
	start := time.Now()
	p.stats.targetsPolled.Add(1)
	if p.onTargetDone != nil {
		defer func() { p.onTargetDone(st.t.resourceID, time.Since(start), res.err) }()
	}
	tctx, cancel := context.WithTimeout(ctx, p.targetTimeout)
	defer cancel()
	t := st.t
	f, reused, err := p.fetch(tctx, st, pl)
	if err != nil && reused {
		// The agent may have restarted since the session was opened (a new
		// v3 engine ID or boots makes its reports unreadable to the old
		// session): try once more from scratch before calling it failed.
		if class, _ := classify(err, ctx, t); class == "auth" || class == "malformed" {
			f, _, err = p.fetch(tctx, st, pl)
		}
	}
	if err != nil {
		res.class, res.err = classify(err, ctx, t)
		if res.class == "auth" && t.level != gosnmp.NoAuthNoPriv {
			if d := diagnoseAuth(tctx, t); d != nil {
				res.err = d
			}
		}
		return res
	}
	res.samples, res.errs = p.evaluate(t, pl.meters, f, time.Now().UTC())
	return res
}

// fetch reads the plan's OIDs from st's agent, opening a session if none is
// open; reused says whether an existing session was used. On error the
// session is closed, so the next attempt starts fresh (new socket, v3
// engine rediscovered).
func (p *snmpPollster) fetch(ctx context.Context, st *targetState, pl *plan) (f *fetched, reused bool, err error) {
	reused = st.g != nil
	if st.g == nil {
		g := st.t.session()
		g.Context = ctx
		if err := g.Connect(); err != nil {
			return nil, false, err
		}
		st.g = g
	}
	st.g.Context = ctx // gosnmp takes each request's deadline from here
	f = &fetched{scalars: make(map[string]gosnmp.SnmpPDU, len(pl.scalars)), columns: make(map[string]*column, len(pl.columns))}
	err = getScalars(st.g, pl.scalars, f.scalars)
	if err == nil {
		err = walkColumns(st.g, pl.columns, st.t.maxRepetitions, f.columns)
	}
	if err != nil {
		st.close()
		return nil, reused, err
	}
	st.g.Context = nil
	return f, reused, nil
}

// evaluate turns what was read into samples. An OID without a value skips
// that sample (as Ceilometer skips None); a value that is not a number is
// a ResourceError for that meter.
func (p *snmpPollster) evaluate(t *target, ms []*meter, f *fetched, now time.Time) ([]sample.Sample, []error) {
	var out []sample.Sample
	var errs []error
	reverse := map[string]map[string]string{} // index_of lookups, built once per column
	emit := func(m *meter, v float64, rid string, md map[string]string) {
		out = append(out, sample.Sample{
			Name: m.info.Name, Type: m.info.Type, Unit: m.info.Unit, Volume: v,
			ResourceID: rid, Timestamp: now, Source: "altimeter", MessageID: sample.NewMessageID(), Metadata: md,
		})
	}
	for _, m := range ms {
		var badErr error
		note := func(err error) {
			if errors.Is(err, errNoValue) {
				p.stats.missingValues.Add(1)
				return
			}
			p.stats.badValues.Add(1)
			if badErr == nil {
				badErr = err
			}
		}
		if !m.table {
			md := map[string]string{"host": t.host}
			for _, ms := range m.meta {
				if s, err := metaValue(ms, f.scalars[ms.oid]); err == nil {
					md[ms.name] = s
				}
			}
			v, err := m.compute(f.scalars[m.oid], func(oid string) gosnmp.SnmpPDU { return f.scalars[oid] }, md)
			if err != nil {
				note(err)
			} else {
				emit(m, v, t.resourceID, md)
			}
		} else {
			col := f.columns[m.oid]
			if col == nil {
				continue
			}
			var agg []float64
			for _, idx := range col.order {
				md := map[string]string{"host": t.host}
				for _, ms := range m.meta {
					c := f.columns[ms.oid]
					if ms.indexOf {
						rv, ok := reverse[ms.oid]
						if !ok {
							rv = reverseIndex(c)
							reverse[ms.oid] = rv
						}
						if s, ok := rv[idx]; ok {
							md[ms.name] = s
						}
						continue
					}
					if s, err := metaValue(ms, f.cell(ms.oid, idx)); err == nil {
						md[ms.name] = s
					}
				}
				v, err := m.compute(col.rows[idx], func(oid string) gosnmp.SnmpPDU { return f.cell(oid, idx) }, md)
				if err != nil {
					note(err)
					continue
				}
				if m.aggregate != "" {
					agg = append(agg, v)
					continue
				}
				rid := t.resourceID + "." + idx
				if s := md[m.suffixKey]; m.suffixKey != "" && s != "" {
					rid = t.resourceID + "." + s
				}
				emit(m, v, rid, md)
			}
			if len(agg) > 0 {
				emit(m, fold(m.aggregate, agg), t.resourceID, map[string]string{"host": t.host})
			}
		}
		if badErr != nil {
			errs = append(errs, &pollster.ResourceError{ResourceID: t.resourceID, Meter: m.info.Name, Err: badErr})
		}
	}
	return out, errs
}

// compute is a meter's volume from its value varbind, its vars (looked up
// by OID with get) and the row's metadata.
func (m *meter) compute(p gosnmp.SnmpPDU, get func(oid string) gosnmp.SnmpPDU, md map[string]string) (float64, error) {
	v, err := pduFloat(p)
	if err != nil {
		return 0, err
	}
	if m.value == nil {
		return v, nil
	}
	env := make(map[string]any, len(m.vars)+2)
	env["value"], env["metadata"] = v, md
	for _, nv := range m.vars {
		x, err := pduFloat(get(nv.oid))
		if err != nil {
			return 0, err
		}
		env[nv.name] = x
	}
	out, err := vm.Run(m.value, env)
	if err != nil {
		return 0, fmt.Errorf("value of %s: %w", m.info.Name, err)
	}
	f, ok := out.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("value of %s: %v is not a finite number", m.info.Name, out)
	}
	return f, nil
}

func metaValue(ms metaSpec, p gosnmp.SnmpPDU) (string, error) {
	if ms.value == nil {
		return pduText(p, ms.format)
	}
	v, err := pduFloat(p)
	if err != nil {
		return "", err
	}
	out, err := vm.Run(ms.value, map[string]any{"value": v})
	if err != nil {
		return "", err
	}
	f, ok := out.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("metadata %s: %v is not a finite number", ms.name, out)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// reverseIndex maps each value of a column (as text) to the index of the
// first row holding it: ipAdEntIfIndex.<ip> = ifIndex gives ifIndex -> ip.
func reverseIndex(c *column) map[string]string {
	out := map[string]string{}
	if c == nil {
		return out
	}
	for _, idx := range c.order {
		s, err := pduText(c.rows[idx], "auto")
		if err != nil {
			continue
		}
		if _, dup := out[s]; !dup {
			out[s] = idx
		}
	}
	return out
}

func fold(op string, vs []float64) float64 {
	r := vs[0]
	for _, v := range vs[1:] {
		switch op {
		case "sum", "avg":
			r += v
		case "min":
			r = math.Min(r, v)
		case "max":
			r = math.Max(r, v)
		}
	}
	if op == "avg" {
		r /= float64(len(vs))
	}
	return r
}

// Counters implements base.CounterReporter, for the host's /metrics.
func (p *snmpPollster) Counters() map[string]uint64 {
	s := &p.stats
	return map[string]uint64{
		"polls":               s.polls.Load(),
		"targets_polled":      s.targetsPolled.Load(),
		"target_errors":       s.targetErrors.Load(),
		"timeouts":            s.timeouts.Load(),
		"auth_failures":       s.authFailures.Load(),
		"connection_refused":  s.refused.Load(),
		"malformed_responses": s.malformed.Load(),
		"targets_canceled":    s.canceled.Load(),
		"bad_resources":       s.badResources.Load(),
		"missing_values":      s.missingValues.Load(),
		"bad_values":          s.badValues.Load(),
		"targets_went_down":   s.wentDown.Load(),
		"targets_recovered":   s.recovered.Load(),
		"samples":             s.samples.Load(),
	}
}

// Close closes every open session.
func (p *snmpPollster) Close(context.Context) error {
	for _, st := range p.targets {
		st.close()
	}
	return nil
}
