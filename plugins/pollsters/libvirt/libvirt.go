package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"

	"github.com/altimeter/altimeter/internal/backoff"
)

type config struct {
	URI                 string `hcl:"uri,optional" desc:"libvirt connection URI, as Nova's [libvirt] connection_uri (qemu:///system on a KVM compute host)."`
	Socket              string `hcl:"socket,optional" desc:"Path of libvirtd's unix socket that the plugin dials; the URI is then opened over it."`
	Host                string `hcl:"host,optional" desc:"This compute host's name as Nova knows it (CONF.host): metadata instance_host, and the seed of the host id in metadata host. Empty means the hostname."`
	ConnectTimeout      string `hcl:"connect_timeout,optional" desc:"Longest wait for the socket and libvirt's connection handshake, as a duration (\"5s\")."`
	ReconnectMaxBackoff string `hcl:"reconnect_max_backoff,optional" desc:"After a lost connection the next poll reconnects at once; each failed attempt doubles the wait before the next (1s, 2s, ...) up to this duration."`
	Parallelism         int    `hcl:"parallelism,optional" desc:"Domains read concurrently over the one connection (domain XML, and the per-domain calls of drivers without bulk stats)."`
}

// connState is the connection's state, logged once per change.
type connState uint8

const (
	connNever connState = iota
	connUp
	connDown
)

// bulkMode says whether the connected driver has bulk domain stats; it is
// detected on the first poll of each connection and remembered.
type bulkMode uint8

const (
	bulkUnknown bulkMode = iota
	bulkYes
	bulkNo
)

// errDisconnected is returned by a poll while libvirt cannot be reached; it
// is base.ErrUnavailable, which the host sees as gRPC Unavailable.
var errDisconnected = fmt.Errorf("libvirt is not connected: %w", base.ErrUnavailable)

// lv is the pollster. Poll is never called concurrently with itself, but
// Discover may run beside it: the connection state is under mu.
type lv struct {
	uri            string
	uriLog         string // uri with any password masked, for logs and errors
	socket         string
	host           string
	connectTimeout time.Duration
	maxBackoff     time.Duration
	parallelism    int
	log            hclog.Logger
	info           map[string]sample.MeterInfo

	mu       sync.Mutex
	conn     *conn
	state    connState
	failures int
	nextTry  time.Time
	bulk     bulkMode
	everUp   bool

	stats struct {
		connectFailures, disconnects, reconnects atomic.Uint64
		vanished, domainErrors, noMetadata       atomic.Uint64
	}
}

var (
	_ pollster.Pollster   = (*lv)(nil)
	_ pollster.Discoverer = (*lv)(nil)
)

func newLibvirt(c config, log hclog.Logger) (*lv, error) {
	var errs []error
	if c.URI == "" {
		errs = append(errs, schema.AttrError("uri", "must be a libvirt URI such as \"qemu:///system\""))
	} else if u, err := url.Parse(c.URI); err != nil || u.Scheme == "" {
		errs = append(errs, schema.AttrError("uri", fmt.Sprintf("%q is not a libvirt URI (want driver:///path, such as \"qemu:///system\")", c.URI)))
	}
	if c.Socket == "" {
		errs = append(errs, schema.AttrError("socket", "must be the path of libvirtd's unix socket, such as \"/var/run/libvirt/libvirt-sock\""))
	}
	dur := func(name, v string) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, schema.AttrError(name, fmt.Sprintf("%q must be a positive duration such as \"5s\"", v)))
		}
		return d
	}
	ct := dur("connect_timeout", c.ConnectTimeout)
	mb := dur("reconnect_max_backoff", c.ReconnectMaxBackoff)
	if c.Parallelism < 1 || c.Parallelism > 64 {
		errs = append(errs, schema.AttrError("parallelism", fmt.Sprintf("%d must be between 1 and 64", c.Parallelism)))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	host := c.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	p := &lv{
		uri: c.URI, uriLog: redact(c.URI), socket: c.Socket, host: host, connectTimeout: ct, maxBackoff: mb,
		parallelism: c.Parallelism, log: log, info: make(map[string]sample.MeterInfo, len(meters)),
	}
	for _, m := range meters {
		p.info[m.Name] = m
	}
	return p, nil
}

// redact masks a password in a URI (libvirt URIs rarely carry one, but a
// URI must never put a secret into logs).
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparsable uri)"
	}
	return u.Redacted()
}

// conn is one connection to libvirtd. Closing its socket (abort) makes
// every pending call fail at once, which is how a poll's deadline
// interrupts a daemon that does not answer.
type conn struct {
	l *libvirt.Libvirt
	d *dialer
}

// dialer dials the unix socket and keeps the net.Conn so it can be closed.
type dialer struct {
	path    string
	timeout time.Duration
	mu      sync.Mutex
	c       net.Conn
}

func (d *dialer) Dial() (net.Conn, error) {
	c, err := net.DialTimeout("unix", d.path, d.timeout)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.c = c
	d.mu.Unlock()
	return c, nil
}

func (d *dialer) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c != nil {
		_ = d.c.Close()
	}
}

// dial connects and opens the URI, within connect_timeout and ctx.
func (p *lv) dial(ctx context.Context) (*conn, error) {
	d := &dialer{path: p.socket, timeout: p.connectTimeout}
	c := &conn{l: libvirt.NewWithDialer(d), d: d}
	ctx, cancel := context.WithTimeout(ctx, p.connectTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, d.abort)
	defer stop()
	if err := c.l.ConnectToURI(libvirt.ConnectURI(p.uri)); err != nil {
		d.abort()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect %s via %s: %w", p.uriLog, p.socket, ctx.Err())
		}
		return nil, fmt.Errorf("connect %s via %s: %w", p.uriLog, p.socket, err)
	}
	return c, nil
}

// acquire returns the live connection, reconnecting when the last one was
// lost: at once on the first poll after the loss, then with a doubling
// backoff while attempts fail. State changes are logged once.
func (p *lv) acquire(ctx context.Context) (*conn, bulkMode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		if p.conn.l.IsConnected() {
			return p.conn, p.bulk, nil
		}
		p.lostLocked(p.conn, errors.New("connection closed"))
	}
	now := time.Now()
	if now.Before(p.nextTry) {
		return nil, bulkUnknown, fmt.Errorf("%w (%s; next attempt in %s)", errDisconnected, p.uriLog, p.nextTry.Sub(now).Round(time.Millisecond))
	}
	c, err := p.dial(ctx)
	if err != nil {
		p.stats.connectFailures.Add(1)
		p.failures++
		wait := backoff.Delay(time.Second, p.maxBackoff, p.failures)
		p.nextTry = time.Now().Add(wait)
		if p.state != connDown {
			p.log.Warn("cannot connect to libvirt; retrying with backoff", "uri", p.uriLog, "socket", p.socket, "error", err)
			p.state = connDown
		} else {
			p.log.Debug("libvirt reconnect failed", "uri", p.uriLog, "backoff", wait, "error", err)
		}
		return nil, bulkUnknown, fmt.Errorf("%w: %w", err, base.ErrUnavailable)
	}
	if p.everUp {
		p.stats.reconnects.Add(1)
		p.log.Info("reconnected to libvirt", "uri", p.uriLog, "failed_attempts", p.failures)
	} else {
		p.log.Info("connected to libvirt", "uri", p.uriLog)
	}
	p.conn, p.state, p.failures, p.nextTry, p.bulk, p.everUp = c, connUp, 0, time.Time{}, bulkUnknown, true
	return c, bulkUnknown, nil
}

// lost records that c broke (if it is still the current connection).
func (p *lv) lost(c *conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lostLocked(c, err)
}

func (p *lv) lostLocked(c *conn, err error) {
	if p.conn != c || c == nil {
		return
	}
	c.d.abort()
	p.conn = nil
	p.stats.disconnects.Add(1)
	if p.state == connUp {
		p.log.Warn("lost the libvirt connection; reconnecting on the next poll", "uri", p.uriLog, "error", err)
	}
	p.state = connDown
	p.nextTry = time.Time{}
}

// setBulk remembers whether the driver of connection c has bulk stats.
func (p *lv) setBulk(c *conn, m bulkMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == c && p.bulk != m {
		p.bulk = m
		if m == bulkNo {
			p.log.Info("libvirt driver has no bulk domain stats; using per-domain calls", "uri", p.uriLog)
		} else {
			p.log.Debug("using libvirt bulk domain stats", "uri", p.uriLog)
		}
	}
}

// broken reports whether err means the connection is gone (not a libvirt
// error about one call).
func broken(c *conn, err error) bool {
	return err != nil && (!isLibvirtError(err) || !c.l.IsConnected())
}

// Discover implements pollster.Discoverer: local_instances lists every
// domain carrying Nova's metadata.
func (p *lv) Discover(ctx context.Context, method, param string) ([]sample.Resource, error) {
	if method != discoveryLocalInstances {
		return nil, fmt.Errorf("discover: unknown method %q (this plugin offers %q)", method, discoveryLocalInstances)
	}
	c, _, err := p.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", method, err)
	}
	stop := context.AfterFunc(ctx, c.d.abort)
	defer stop()
	doms, _, err := c.l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
	if err != nil {
		if broken(c, err) {
			p.lost(c, err)
			err = fmt.Errorf("%w: %w", err, base.ErrUnavailable)
		}
		return nil, fmt.Errorf("discover %s: list domains: %w", method, ctxErr(ctx, err))
	}
	states := p.states(c, doms)
	ins := make([]*instance, len(doms))
	errs := p.each(ctx, len(doms), func(i int) error {
		x, err := c.l.DomainGetXMLDesc(doms[i], 0)
		if err != nil {
			if domainGone(err) != nil {
				p.stats.vanished.Add(1)
				return nil
			}
			return fmt.Errorf("domain %s: %w", doms[i].Name, err)
		}
		in, err := parseDomainXML(x)
		if err != nil {
			return fmt.Errorf("domain %s: %w", doms[i].Name, err)
		}
		ins[i] = in
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		if broken(c, err) {
			p.lost(c, err)
			return nil, fmt.Errorf("discover %s: %w: %w", method, ctxErr(ctx, err), base.ErrUnavailable)
		}
		p.stats.domainErrors.Add(uint64(len(errs)))
		p.log.Debug("skipping domains that cannot be read", "error", err)
	}
	out := make([]sample.Resource, 0, len(doms))
	for i, in := range ins {
		if in == nil {
			continue
		}
		if !in.nova {
			p.stats.noMetadata.Add(1)
			continue
		}
		st, ok := states[doms[i].UUID]
		if !ok {
			st = stateUnknown
		}
		out = append(out, sample.Resource{ID: in.uuid, ProjectID: in.projectID, UserID: in.userID, Metadata: in.metadata(p.host, st)})
	}
	return out, nil
}

// states reads every domain's state in one call (all drivers report the
// state group); domains missing from the answer are left out.
func (p *lv) states(c *conn, doms []libvirt.Domain) map[libvirt.UUID]int {
	out := make(map[libvirt.UUID]int, len(doms))
	if len(doms) == 0 {
		return out
	}
	recs, err := c.l.ConnectGetAllDomainStats(doms, uint32(libvirt.DomainStatsState), 0)
	if err != nil {
		p.log.Debug("cannot read domain states", "error", err)
		return out
	}
	for _, r := range recs {
		for _, prm := range r.Params {
			if prm.Field == "state.state" {
				if v, ok := paramInt(prm.Value); ok {
					out[r.Dom.UUID] = int(v)
				}
			}
		}
	}
	return out
}

// each runs fn(0..n-1) on p.parallelism goroutines, stopping early when
// ctx ends, and returns the errors.
func (p *lv) each(ctx context.Context, n int, fn func(i int) error) []error {
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	workers := min(p.parallelism, n)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// target is one domain a poll reads, and what it found.
type target struct {
	res     sample.Resource
	dom     libvirt.Domain
	bulk    *domStats
	out     []sample.Sample
	errs    []error
	skipped bool
}

// Poll implements pollster.Pollster: it reads the requested meters of
// exactly the requested domains (by instance uuid, or libvirt name).
func (p *lv) Poll(ctx context.Context, req pollster.Request) ([]sample.Sample, error) {
	want := make(map[string]bool, len(req.Meters))
	var errs []error
	for _, m := range req.Meters {
		if _, ok := p.info[m]; !ok {
			errs = append(errs, &pollster.ResourceError{Meter: m, Err: fmt.Errorf("unknown meter for the libvirt pollster")})
			continue
		}
		want[m] = true
	}
	if len(req.Resources) == 0 || len(want) == 0 {
		return nil, errors.Join(errs...)
	}
	c, bulk, err := p.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("poll libvirt: %w", err)
	}
	stop := context.AfterFunc(ctx, c.d.abort)
	defer stop()

	doms, _, err := c.l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
	if err != nil {
		if broken(c, err) {
			p.lost(c, err)
			err = fmt.Errorf("%w: %w", err, base.ErrUnavailable)
		}
		return nil, fmt.Errorf("poll libvirt: list domains: %w", ctxErr(ctx, err))
	}
	byKey := make(map[string]libvirt.Domain, 2*len(doms))
	for _, d := range doms {
		byKey[sample.FormatUUID(d.UUID)] = d
		byKey[d.Name] = d
	}
	targets := make([]*target, 0, len(req.Resources))
	seen := make(map[libvirt.UUID]bool, len(req.Resources))
	for _, r := range req.Resources {
		d, ok := byKey[r.ID]
		if !ok {
			p.stats.vanished.Add(1)
			p.log.Debug("skipping a domain that no longer exists", "resource_id", r.ID)
			continue
		}
		if !seen[d.UUID] {
			seen[d.UUID] = true
			targets = append(targets, &target{res: r, dom: d})
		}
	}
	n := needsFor(want)

	var bulkAt time.Time
	if bulk != bulkNo && len(targets) > 0 {
		tdoms := make([]libvirt.Domain, len(targets))
		for i, t := range targets {
			tdoms[i] = t.dom
		}
		bulkAt = time.Now().UTC()
		recs, err := c.l.ConnectGetAllDomainStats(tdoms, n.bulkMask(), 0)
		switch {
		case broken(c, err):
			p.lost(c, err)
			return nil, fmt.Errorf("poll libvirt: bulk stats: %w: %w", ctxErr(ctx, err), base.ErrUnavailable)
		case err != nil:
			p.setBulk(c, bulkNo)
			bulk = bulkNo
		default:
			byUUID := make(map[libvirt.UUID]*domStats, len(recs))
			anyActive, anyCPU := false, false
			for _, r := range recs {
				d := parseBulk(r.Params)
				byUUID[r.Dom.UUID] = d
				if d.active() {
					anyActive = true
					anyCPU = anyCPU || d.cpuTime >= 0
				}
			}
			switch {
			case anyCPU:
				p.setBulk(c, bulkYes)
				bulk = bulkYes
			case anyActive:
				p.setBulk(c, bulkNo)
				bulk = bulkNo
			}
			for _, t := range targets {
				t.bulk = byUUID[t.dom.UUID]
			}
		}
	}

	perr := p.each(ctx, len(targets), func(i int) error {
		return p.pollDomain(c, targets[i], want, n, bulk == bulkYes, bulkAt)
	})
	total := 0
	for _, t := range targets {
		total += len(t.out)
	}
	out := make([]sample.Sample, 0, total)
	for _, t := range targets {
		out = append(out, t.out...)
		errs = append(errs, t.errs...)
	}
	if err := errors.Join(perr...); err != nil {
		if broken(c, err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			p.lost(c, err)
		}
		if ctx.Err() != nil {
			p.lost(c, ctx.Err()) // the deadline closed the socket
		}
		errs = append(errs, fmt.Errorf("poll libvirt: %w: %w", ctxErr(ctx, err), base.ErrUnavailable))
	}
	return out, errors.Join(errs...)
}

// pollDomain reads one domain and fills t.out; it returns only errors that
// end the poll (a broken connection).
func (p *lv) pollDomain(c *conn, t *target, want map[string]bool, n needs, useBulk bool, bulkAt time.Time) error {
	x, err := c.l.DomainGetXMLDesc(t.dom, 0)
	if err != nil {
		if domainGone(err) != nil {
			p.skip(t, err)
			return nil
		}
		if isLibvirtError(err) && c.l.IsConnected() {
			p.stats.domainErrors.Add(1)
			t.errs = append(t.errs, &pollster.ResourceError{ResourceID: t.res.ID, Err: fmt.Errorf("domain xml: %w", err)})
			return nil
		}
		return fmt.Errorf("domain %s: %w", t.dom.Name, err)
	}
	in, err := parseDomainXML(x)
	if err != nil {
		p.stats.domainErrors.Add(1)
		t.errs = append(t.errs, &pollster.ResourceError{ResourceID: t.res.ID, Err: err})
		return nil
	}
	var (
		d       *domStats
		devErrs []deviceError
		at      time.Time
	)
	if useBulk {
		if d, at = t.bulk, bulkAt; d == nil {
			p.skip(t, errVanished)
			return nil
		}
	} else {
		at = time.Now().UTC()
		d, devErrs, err = collectPerCall(c.l, t.dom, in, n)
		if errors.Is(err, errVanished) || errors.Is(err, errStopped) {
			p.skip(t, err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("domain %s: %w", t.dom.Name, err)
		}
	}
	t.out = p.emit(t.res, in, d, want, at)
	for _, de := range devErrs {
		p.stats.domainErrors.Add(1)
		for _, m := range de.meters {
			if want[m] {
				rid := in.uuid
				if de.dev != "" {
					rid += "-" + de.dev
				}
				t.errs = append(t.errs, &pollster.ResourceError{ResourceID: rid, Meter: m, Err: de.err})
			}
		}
	}
	return nil
}

// skip drops a domain that vanished or stopped during the poll: counted,
// logged at debug, no error (the next discovery forgets it).
func (p *lv) skip(t *target, why error) {
	t.skipped, t.out, t.errs = true, nil, nil
	p.stats.vanished.Add(1)
	p.log.Debug("skipping a domain that vanished during the poll", "resource_id", t.res.ID, "domain", t.dom.Name, "error", why)
}

// emit turns one domain's stats into samples, all stamped at.
func (p *lv) emit(res sample.Resource, in *instance, d *domStats, want map[string]bool, at time.Time) []sample.Sample {
	project, user := in.projectID, in.userID
	if !in.nova {
		project, user = res.ProjectID, res.UserID
	}
	md := in.metadata(p.host, d.state)
	out := make([]sample.Sample, 0, 9+7*len(d.blocks)+8*len(d.nics))
	add := func(name string, vol float64, rid string, m map[string]string) {
		if !want[name] {
			return
		}
		mi := p.info[name]
		out = append(out, sample.Sample{
			Name: name, Type: mi.Type, Unit: mi.Unit, Volume: vol, ResourceID: rid,
			ProjectID: project, UserID: user, Timestamp: at, Source: "altimeter",
			MessageID: sample.NewMessageID(), Metadata: m,
		})
	}
	if d.state != stateUnknown {
		add(mPowerState, float64(d.state), in.uuid, md)
	}
	if !d.active() {
		return out // as Ceilometer: a shut-off instance has no other meters
	}
	if d.cpuTime >= 0 && want[mCPU] {
		cm := clone(md, 1)
		cm["cpu_number"] = strconv.FormatInt(max(d.vcpus, 0), 10)
		add(mCPU, float64(d.cpuTime), in.uuid, cm)
	}
	if d.vcpus >= 0 {
		add(mVCPUs, float64(d.vcpus), in.uuid, md)
	}
	if d.memKiB >= 0 {
		add(mMemory, float64(d.memKiB)/1024, in.uuid, md)
	}
	if d.mem != nil {
		avail, hasAvail := d.mem["available"]
		if usable, ok := d.mem["usable"]; ok && hasAvail {
			add(mMemoryUsage, float64(avail-usable)/1024, in.uuid, md)
		} else if unused, ok := d.mem["unused"]; ok && hasAvail {
			add(mMemoryUsage, float64(avail-unused)/1024, in.uuid, md)
		}
		if rss, ok := d.mem["rss"]; ok {
			add(mMemoryResident, float64(rss)/1024, in.uuid, md)
		}
		if hasAvail {
			add(mMemoryAvail, float64(avail)/1024, in.uuid, md)
		}
		si, ok1 := d.mem["swap_in"]
		so, ok2 := d.mem["swap_out"]
		if ok1 && ok2 {
			add(mSwapIn, float64(si)/1024, in.uuid, md)
			add(mSwapOut, float64(so)/1024, in.uuid, md)
		}
	}
	for _, pm := range []struct{ meter, key string }{
		{mPerfCycles, "cpu_cycles"}, {mPerfInstr, "instructions"},
		{mPerfCacheRefs, "cache_references"}, {mPerfCacheMiss, "cache_misses"},
	} {
		if v, ok := d.perf[pm.key]; ok {
			add(pm.meter, float64(v), in.uuid, md)
		}
	}
	for _, b := range d.blocks {
		rid := in.uuid + "-" + b.dev
		bm := clone(md, 1)
		bm["disk_name"] = b.dev
		for _, v := range []struct {
			meter string
			val   int64
			ok    bool
		}{
			{mDiskReadBytes, b.rdBytes, b.hasIO}, {mDiskWriteBytes, b.wrBytes, b.hasIO},
			{mDiskReadReqs, b.rdReqs, b.hasIO}, {mDiskWriteReqs, b.wrReqs, b.hasIO},
			{mDiskCapacity, b.capacity, b.hasInfo}, {mDiskAlloc, b.allocation, b.hasInfo},
			{mDiskUsage, b.physical, b.hasInfo},
		} {
			if v.ok && v.val >= 0 {
				add(v.meter, float64(v.val), rid, bm)
			}
		}
	}
	for _, nst := range d.nics {
		vm := clone(md, 8)
		var info vnic
		for _, v := range in.nics {
			if v.dev == nst.dev {
				info = v
				break
			}
		}
		// Ceilometer's vNIC resource id: the filter reference when the
		// interface has one, else <instance name>-<uuid>-<tap name>.
		rid := in.name + "-" + in.uuid + "-" + nst.dev
		vm["name"], vm["vnic_name"] = nst.dev, nst.dev
		if info.fref != "" {
			rid = info.fref
			vm["fref"], vm["vnic_name"] = info.fref, info.fref
		}
		vm["mac"] = info.mac
		for k, v := range info.params {
			vm["parameters."+k] = v
		}
		for _, v := range []struct {
			meter string
			val   int64
		}{
			{mNetInBytes, nst.rxBytes}, {mNetOutBytes, nst.txBytes},
			{mNetInPackets, nst.rxPkts}, {mNetOutPackets, nst.txPkts},
			{mNetInDrop, nst.rxDrop}, {mNetOutDrop, nst.txDrop},
			{mNetInError, nst.rxErrs}, {mNetOutError, nst.txErrs},
		} {
			if v.val >= 0 {
				add(v.meter, float64(v.val), rid, vm)
			}
		}
	}
	return out
}

func clone(m map[string]string, extra int) map[string]string {
	out := make(map[string]string, len(m)+extra)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Counters implements base.CounterReporter.
func (p *lv) Counters() map[string]uint64 {
	return map[string]uint64{
		"connect_failures":        p.stats.connectFailures.Load(),
		"disconnects":             p.stats.disconnects.Load(),
		"reconnects":              p.stats.reconnects.Load(),
		"domains_vanished":        p.stats.vanished.Load(),
		"domain_errors":           p.stats.domainErrors.Load(),
		"domains_without_nova_md": p.stats.noMetadata.Load(),
	}
}

// Close implements base.Closer: it closes the connection, giving libvirt
// until ctx ends to acknowledge.
func (p *lv) Close(ctx context.Context) error {
	p.mu.Lock()
	c := p.conn
	p.conn, p.state = nil, connNever
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- c.l.Disconnect() }()
	select {
	case err := <-done:
		c.d.abort()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("close libvirt connection: %w", err)
		}
		return nil
	case <-ctx.Done():
		c.d.abort()
		return nil
	}
}
