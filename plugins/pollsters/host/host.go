package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/procfs"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

type config struct {
	ProcRoot           string   `hcl:"proc_root,optional" desc:"Root of the procfs tree to read (a host's /proc bind-mounted into a container, or a fixture directory)."`
	ResourceID         string   `hcl:"resource_id,optional" desc:"Resource ID of the host-level samples; empty means the hostname."`
	MountPrefix        string   `hcl:"mount_prefix,optional" desc:"Prefix joined to every mount point before statfs, when the host's root filesystem is mounted elsewhere (e.g. \"/rootfs\")."`
	ExcludeFSTypes     []string `hcl:"exclude_fs_types,optional" desc:"Filesystem types never reported by hardware.disk.* (pseudo and network filesystems by default)."`
	ExcludeMountPoints []string `hcl:"exclude_mount_points,optional" desc:"Glob patterns (path.Match) of mount points not reported by hardware.disk.*."`
	ExcludeIfaces      []string `hcl:"exclude_interfaces,optional" desc:"Glob patterns (path.Match) of network interfaces not reported by hardware.network.*."`
}

// defaultExcludeFSTypes are pseudo filesystems (no storage of their own),
// container layers and network filesystems (statfs on a dead NFS server
// blocks and cannot be interrupted).
func defaultExcludeFSTypes() []string {
	return []string{
		"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
		"devpts", "devtmpfs", "efivarfs", "fusectl", "fuse.lxcfs", "hugetlbfs",
		"mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs", "securityfs",
		"selinuxfs", "sysfs", "tmpfs", "tracefs",
		"aufs", "overlay", "squashfs", "iso9660",
		"nfs", "nfs4", "cifs", "smb3",
	}
}

// Meter names, as Ceilometer's SNMP hardware pollsters name them.
const (
	mCPUUtil      = "hardware.cpu.util"
	mLoad1        = "hardware.cpu.load.1min"
	mLoad5        = "hardware.cpu.load.5min"
	mLoad15       = "hardware.cpu.load.15min"
	mMemTotal     = "hardware.memory.total"
	mMemUsed      = "hardware.memory.used"
	mMemBuffer    = "hardware.memory.buffer"
	mMemCached    = "hardware.memory.cached"
	mSwapTotal    = "hardware.memory.swap.total"
	mSwapAvail    = "hardware.memory.swap.avail"
	mDiskTotal    = "hardware.disk.size.total"
	mDiskUsed     = "hardware.disk.size.used"
	mNetInBytes   = "hardware.network.incoming.bytes"
	mNetOutBytes  = "hardware.network.outgoing.bytes"
	mNetOutErrors = "hardware.network.outgoing.errors"
	mIOInBlocks   = "hardware.system_stats.io.incoming.blocks"
	mIOOutBlocks  = "hardware.system_stats.io.outgoing.blocks"
)

// meters is the plugin's read-only meter table, declared in Spec.Meters.
var meters = []sample.MeterInfo{
	{Name: mCPUUtil, Type: sample.Gauge, Unit: "%", Description: "CPU utilisation across all CPUs since the previous poll (not emitted on the first poll)."},
	{Name: mLoad1, Type: sample.Gauge, Unit: "process", Description: "Load average over 1 minute."},
	{Name: mLoad5, Type: sample.Gauge, Unit: "process", Description: "Load average over 5 minutes."},
	{Name: mLoad15, Type: sample.Gauge, Unit: "process", Description: "Load average over 15 minutes."},
	{Name: mMemTotal, Type: sample.Gauge, Unit: "KB", Description: "Total physical memory (MemTotal)."},
	{Name: mMemUsed, Type: sample.Gauge, Unit: "KB", Description: "Physical memory in use, buffers and cache included (MemTotal - MemFree, as net-snmp's memTotalReal - memAvailReal)."},
	{Name: mMemBuffer, Type: sample.Gauge, Unit: "KB", Description: "Memory used for block device buffers (Buffers)."},
	{Name: mMemCached, Type: sample.Gauge, Unit: "KB", Description: "Memory used for the page cache (Cached)."},
	{Name: mSwapTotal, Type: sample.Gauge, Unit: "KB", Description: "Total swap space (SwapTotal)."},
	{Name: mSwapAvail, Type: sample.Gauge, Unit: "KB", Description: "Free swap space (SwapFree)."},
	{Name: mDiskTotal, Type: sample.Gauge, Unit: "KB", Description: "Size of a filesystem, per filesystem."},
	{Name: mDiskUsed, Type: sample.Gauge, Unit: "KB", Description: "Used space of a filesystem (size - free), per filesystem."},
	{Name: mNetInBytes, Type: sample.Cumulative, Unit: "B", Description: "Bytes received, per network interface."},
	{Name: mNetOutBytes, Type: sample.Cumulative, Unit: "B", Description: "Bytes sent, per network interface."},
	{Name: mNetOutErrors, Type: sample.Cumulative, Unit: "packet", Description: "Transmit errors, per network interface."},
	{Name: mIOInBlocks, Type: sample.Cumulative, Unit: "blocks", Description: "1 KiB blocks read from block devices (pgpgin in vmstat)."},
	{Name: mIOOutBlocks, Type: sample.Cumulative, Unit: "blocks", Description: "1 KiB blocks written to block devices (pgpgout in vmstat)."},
}

// errUnknownMeter is the ResourceError cause for a meter this plugin does not produce.
var errUnknownMeter = errors.New("unknown meter for the host pollster")

// group is a set of meters read from one source in one go.
type group struct {
	meters  []string
	collect func(r *round) error
}

// host is the pollster. Poll is never called concurrently (SDK contract), so
// the CPU counters of the previous poll need no lock.
type host struct {
	procRoot    string
	proc        procfs.FS
	mountPrefix string
	hostname    string
	rid         string
	fsTypes     map[string]bool
	mountGlobs  []string
	ifaceGlobs  []string
	statfs      func(path string) (fsUsage, error)
	log         hclog.Logger
	info        map[string]sample.MeterInfo
	groups      []group

	prevCPU cpuTimes
	hasPrev bool
}

var _ pollster.Pollster = (*host)(nil)

func newHost(c config, log hclog.Logger) (*host, error) {
	var errs []error
	if c.ProcRoot == "" {
		errs = append(errs, schema.AttrError("proc_root", "must be the path of a procfs tree, such as \"/proc\""))
	} else if _, err := os.Stat(filepath.Join(c.ProcRoot, "stat")); err != nil {
		errs = append(errs, schema.AttrError("proc_root", fmt.Sprintf("must be the path of a procfs tree, such as \"/proc\" (%v)", err)))
	}
	if c.MountPrefix != "" {
		if fi, err := os.Stat(c.MountPrefix); err != nil || !fi.IsDir() {
			errs = append(errs, schema.AttrError("mount_prefix", "must be an existing directory, or empty"))
		}
	}
	for _, a := range []struct {
		name  string
		globs []string
	}{{"exclude_mount_points", c.ExcludeMountPoints}, {"exclude_interfaces", c.ExcludeIfaces}} {
		for _, g := range a.globs {
			if _, err := path.Match(g, ""); err != nil {
				errs = append(errs, schema.AttrError(a.name, fmt.Sprintf("%q is not a glob pattern (path.Match syntax: *, ?, [a-z])", g)))
			}
		}
	}
	var proc procfs.FS
	if len(errs) == 0 {
		var err error
		if proc, err = procfs.NewFS(c.ProcRoot); err != nil {
			errs = append(errs, schema.AttrError("proc_root", fmt.Sprintf("must be the path of a procfs tree (%v)", err)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	h := &host{
		procRoot:    c.ProcRoot,
		proc:        proc,
		mountPrefix: c.MountPrefix,
		fsTypes:     make(map[string]bool, len(c.ExcludeFSTypes)),
		mountGlobs:  c.ExcludeMountPoints,
		ifaceGlobs:  c.ExcludeIfaces,
		statfs:      statfs,
		log:         log,
		info:        make(map[string]sample.MeterInfo, len(meters)),
	}
	for _, t := range c.ExcludeFSTypes {
		h.fsTypes[t] = true
	}
	for _, m := range meters {
		h.info[m.Name] = m
	}
	h.hostname = readHostname(c.ProcRoot)
	h.rid = c.ResourceID
	if h.rid == "" {
		h.rid = h.hostname
	}
	if h.rid == "" {
		return nil, schema.AttrError("resource_id", "must be set: the hostname of this machine is unknown")
	}
	h.groups = []group{
		{[]string{mCPUUtil}, h.collectCPU},
		{[]string{mLoad1, mLoad5, mLoad15}, h.collectLoad},
		{[]string{mMemTotal, mMemUsed, mMemBuffer, mMemCached, mSwapTotal, mSwapAvail}, h.collectMemory},
		{[]string{mDiskTotal, mDiskUsed}, h.collectDisks},
		{[]string{mNetInBytes, mNetOutBytes, mNetOutErrors}, h.collectNetwork},
		{[]string{mIOInBlocks, mIOOutBlocks}, h.collectIO},
	}
	return h, nil
}

// readHostname reads the hostname of the machine whose /proc is root (so a
// containerised agent reading the host's /proc names the host), falling back
// to this process's hostname.
func readHostname(root string) string {
	if b, err := os.ReadFile(filepath.Join(root, "sys", "kernel", "hostname")); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	s, _ := os.Hostname()
	return s
}

// round is one Poll's working state.
type round struct {
	now  time.Time
	want map[string]bool
	out  []sample.Sample
	errs []error
}

func (r *round) wantsAny(names []string) bool {
	for _, n := range names {
		if r.want[n] {
			return true
		}
	}
	return false
}

// Poll reads the sources behind the requested meters, each at most once.
func (h *host) Poll(ctx context.Context, req pollster.Request) ([]sample.Sample, error) {
	r := &round{now: time.Now().UTC(), want: make(map[string]bool, len(req.Meters))}
	for _, m := range req.Meters {
		if _, ok := h.info[m]; !ok {
			r.errs = append(r.errs, &pollster.ResourceError{ResourceID: h.rid, Meter: m, Err: errUnknownMeter})
			continue
		}
		r.want[m] = true
	}
	for _, g := range h.groups {
		if !r.wantsAny(g.meters) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("poll host: %w", err)
		}
		if err := g.collect(r); err != nil {
			for _, m := range g.meters {
				if r.want[m] {
					r.errs = append(r.errs, &pollster.ResourceError{ResourceID: h.rid, Meter: m, Err: err})
				}
			}
		}
	}
	// No MessageID: a reading has no natural id, and the store keys it by
	// series and timestamp (one sample per meter and resource per poll).
	return r.out, errors.Join(r.errs...)
}

// emit adds a sample of meter name if it was requested.
func (h *host) emit(r *round, name string, volume float64, rid string, md map[string]string) {
	if !r.want[name] {
		return
	}
	mi := h.info[name]
	if md == nil {
		md = map[string]string{"host": h.hostname}
	}
	r.out = append(r.out, sample.Sample{
		Name: name, Type: mi.Type, Unit: mi.Unit, Volume: volume,
		ResourceID: rid, Timestamp: r.now, Source: "altimeter", Metadata: md,
	})
}

func (h *host) readProc(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(h.procRoot, name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

func (h *host) collectCPU(r *round) error {
	b, err := h.readProc("stat")
	if err != nil {
		return err
	}
	cur, err := parseStat(b)
	if err != nil {
		return fmt.Errorf("parse stat: %w", err)
	}
	prev, ok := h.prevCPU, h.hasPrev
	h.prevCPU, h.hasPrev = cur, true
	if !ok {
		return nil // first poll: no interval to measure yet
	}
	util, ok := cpuUtil(prev, cur)
	if !ok {
		h.log.Debug("no cpu time elapsed or counters reset; skipping hardware.cpu.util")
		return nil
	}
	h.emit(r, mCPUUtil, util, h.rid, nil)
	return nil
}

func (h *host) collectLoad(r *round) error {
	l, err := h.proc.LoadAvg()
	if err != nil {
		return fmt.Errorf("read loadavg: %w", err)
	}
	h.emit(r, mLoad1, l.Load1, h.rid, nil)
	h.emit(r, mLoad5, l.Load5, h.rid, nil)
	h.emit(r, mLoad15, l.Load15, h.rid, nil)
	return nil
}

func (h *host) collectMemory(r *round) error {
	m, err := h.proc.Meminfo()
	if err != nil {
		return fmt.Errorf("read meminfo: %w", err)
	}
	// kB, the unit the meters use; nil when the kernel has no such line.
	mi := map[string]*uint64{
		"MemTotal": m.MemTotal, "MemFree": m.MemFree, "Buffers": m.Buffers, "Cached": m.Cached,
		"SwapTotal": m.SwapTotal, "SwapFree": m.SwapFree,
	}
	field := func(meter string, keys ...string) {
		if !r.want[meter] {
			return
		}
		v := make([]uint64, len(keys))
		for i, k := range keys {
			x := mi[k]
			if x == nil {
				r.errs = append(r.errs, &pollster.ResourceError{ResourceID: h.rid, Meter: meter, Err: fmt.Errorf("meminfo has no %s", k)})
				return
			}
			v[i] = *x
		}
		vol := v[0]
		if len(v) == 2 {
			vol = sub(v[0], v[1])
		}
		h.emit(r, meter, float64(vol), h.rid, nil)
	}
	field(mMemTotal, "MemTotal")
	field(mMemUsed, "MemTotal", "MemFree")
	field(mMemBuffer, "Buffers")
	field(mMemCached, "Cached")
	field(mSwapTotal, "SwapTotal")
	field(mSwapAvail, "SwapFree")
	return nil
}

func (h *host) collectIO(r *round) error {
	b, err := h.readProc("vmstat")
	if err != nil {
		return err
	}
	vm := parseKeyed(b, ' ')
	for _, f := range []struct{ meter, key string }{{mIOInBlocks, "pgpgin"}, {mIOOutBlocks, "pgpgout"}} {
		if !r.want[f.meter] {
			continue
		}
		v, ok := vm[f.key]
		if !ok {
			r.errs = append(r.errs, &pollster.ResourceError{ResourceID: h.rid, Meter: f.meter, Err: fmt.Errorf("vmstat has no %s", f.key)})
			continue
		}
		h.emit(r, f.meter, float64(v), h.rid, nil)
	}
	return nil
}

func (h *host) collectNetwork(r *round) error {
	b, err := h.readProc("net/dev")
	if err != nil {
		return err
	}
	ifs, err := parseNetDev(b)
	if err != nil {
		return fmt.Errorf("parse net/dev: %w", err)
	}
	for _, i := range ifs {
		name := i.name
		if matchAny(h.ifaceGlobs, name) {
			continue
		}
		rid := h.rid + "." + name
		md := func() map[string]string { return map[string]string{"host": h.hostname, "name": name} }
		if r.want[mNetInBytes] {
			h.emit(r, mNetInBytes, float64(i.rxBytes), rid, md())
		}
		if r.want[mNetOutBytes] {
			h.emit(r, mNetOutBytes, float64(i.txBytes), rid, md())
		}
		if r.want[mNetOutErrors] {
			h.emit(r, mNetOutErrors, float64(i.txErrs), rid, md())
		}
	}
	return nil
}

func (h *host) collectDisks(r *round) error {
	b, err := h.readProc("self/mountinfo")
	if err != nil {
		return err
	}
	mounts, err := parseMountinfo(b)
	if err != nil {
		return fmt.Errorf("parse mountinfo: %w", err)
	}
	var keep []mount
	for _, m := range mounts {
		if !h.fsTypes[m.fsType] && !matchAny(h.mountGlobs, m.point) {
			keep = append(keep, m)
		}
	}
	for _, m := range dedupeByDevice(keep) {
		rid := h.rid + "." + m.point
		u, err := h.statfs(filepath.Join(h.mountPrefix, m.point))
		if err != nil {
			for _, meter := range []string{mDiskTotal, mDiskUsed} {
				if r.want[meter] {
					r.errs = append(r.errs, &pollster.ResourceError{ResourceID: rid, Meter: meter, Err: err})
				}
			}
			continue
		}
		if u.totalKB == 0 {
			continue // a pseudo filesystem not in exclude_fs_types
		}
		md := func() map[string]string {
			return map[string]string{"host": h.hostname, "path": m.point, "device": m.source, "fs_type": m.fsType}
		}
		if r.want[mDiskTotal] {
			h.emit(r, mDiskTotal, float64(u.totalKB), rid, md())
		}
		if r.want[mDiskUsed] {
			h.emit(r, mDiskUsed, float64(u.usedKB), rid, md())
		}
	}
	return nil
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// sub is a - b, floored at zero.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
