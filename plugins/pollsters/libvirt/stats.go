package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// libvirt domain states (virDomainState).
const (
	stateNoState  = 0
	stateRunning  = 1
	stateShutoff  = 5
	stateCrashed  = 6
	stateUnknown  = -1
	memStatNrTags = 13 // VIR_DOMAIN_MEMORY_STAT_NR in libvirt 9
)

// The meter groups: which libvirt data each meter needs, so that a poll
// asks only for what its meters use.
type needs struct {
	memStats, blockIO, blockInfo, net, perf bool
}

var (
	memStatMeters   = []string{mMemoryUsage, mMemoryResident, mMemoryAvail, mSwapIn, mSwapOut}
	blockIOMeters   = []string{mDiskReadBytes, mDiskWriteBytes, mDiskReadReqs, mDiskWriteReqs}
	blockInfoMeters = []string{mDiskCapacity, mDiskAlloc, mDiskUsage}
	netMeters       = []string{mNetInBytes, mNetOutBytes, mNetInPackets, mNetOutPackets, mNetInDrop, mNetOutDrop, mNetInError, mNetOutError}
	perfMeters      = []string{mPerfCycles, mPerfInstr, mPerfCacheRefs, mPerfCacheMiss}
)

func needsFor(want map[string]bool) needs {
	anyOf := func(ms []string) bool {
		for _, m := range ms {
			if want[m] {
				return true
			}
		}
		return false
	}
	return needs{
		memStats:  anyOf(memStatMeters),
		blockIO:   anyOf(blockIOMeters),
		blockInfo: anyOf(blockInfoMeters),
		net:       anyOf(netMeters),
		perf:      anyOf(perfMeters),
	}
}

// bulkMask is the ConnectGetAllDomainStats groups a poll needs.
func (n needs) bulkMask() uint32 {
	m := libvirt.DomainStatsState | libvirt.DomainStatsCPUTotal | libvirt.DomainStatsBalloon | libvirt.DomainStatsVCPU
	if n.blockIO || n.blockInfo {
		m |= libvirt.DomainStatsBlock
	}
	if n.net {
		m |= libvirt.DomainStatsInterface
	}
	if n.perf {
		m |= libvirt.DomainStatsPerf
	}
	return uint32(m)
}

// blockStats is one disk device's counters; negative means not reported.
type blockStats struct {
	dev                              string
	rdReqs, rdBytes, wrReqs, wrBytes int64
	capacity, allocation, physical   int64
	hasIO, hasInfo                   bool
}

// nicStats is one vNIC's counters; negative means not reported.
type nicStats struct {
	dev                             string
	rxBytes, rxPkts, rxErrs, rxDrop int64
	txBytes, txPkts, txErrs, txDrop int64
}

// domStats is what one poll read about one domain. Optional values are
// negative when libvirt did not report them.
type domStats struct {
	state   int
	vcpus   int64
	cpuTime int64
	memKiB  int64 // current allocation (balloon size)
	mem     map[string]int64
	perf    map[string]int64
	blocks  []blockStats
	nics    []nicStats
}

func newDomStats() *domStats {
	return &domStats{state: stateUnknown, vcpus: -1, cpuTime: -1, memKiB: -1}
}

// active reports whether stats beyond the state can be read.
func (d *domStats) active() bool {
	return d.state != stateShutoff && d.state != stateNoState && d.state != stateCrashed && d.state != stateUnknown
}

// paramInt converts a typed parameter's value to an int64.
func paramInt(v libvirt.TypedParamValue) (int64, bool) {
	switch x := v.I.(type) {
	case int32:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > 1<<63-1 {
			return 1<<63 - 1, true
		}
		return int64(x), true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// parseBulk turns one ConnectGetAllDomainStats record into domStats.
func parseBulk(params []libvirt.TypedParam) *domStats {
	d := newDomStats()
	var (
		vcpuMax         int64
		vcpuTime, vcpuN int64
		vcpuTimes       = map[string]int64{}
		blocks          = map[int]*blockStats{}
		nics            = map[int]*nicStats{}
		names           = map[string]string{}
	)
	for _, p := range params {
		if s, ok := p.Value.I.(string); ok {
			names[p.Field] = s
			continue
		}
		v, ok := paramInt(p.Value)
		if !ok {
			continue
		}
		f := p.Field
		switch {
		case f == "state.state":
			d.state = int(v)
		case f == "cpu.time":
			d.cpuTime = v
		case f == "vcpu.current":
			d.vcpus = v
		case f == "vcpu.maximum":
			vcpuMax = v
		case strings.HasPrefix(f, "vcpu."):
			vcpuTimes[f] = v
		case f == "balloon.current":
			d.memKiB = v
		case strings.HasPrefix(f, "balloon."):
			if d.mem == nil {
				d.mem = map[string]int64{}
			}
			d.mem[strings.TrimPrefix(f, "balloon.")] = v
		case strings.HasPrefix(f, "perf."):
			if d.perf == nil {
				d.perf = map[string]int64{}
			}
			d.perf[strings.TrimPrefix(f, "perf.")] = v
		case strings.HasPrefix(f, "block."):
			i, key, ok := indexed(f, "block.")
			if !ok {
				continue
			}
			b := blocks[i]
			if b == nil {
				b = &blockStats{rdReqs: -1, rdBytes: -1, wrReqs: -1, wrBytes: -1, capacity: -1, allocation: -1, physical: -1}
				blocks[i] = b
			}
			switch key {
			case "rd.reqs":
				b.rdReqs, b.hasIO = v, true
			case "rd.bytes":
				b.rdBytes, b.hasIO = v, true
			case "wr.reqs":
				b.wrReqs, b.hasIO = v, true
			case "wr.bytes":
				b.wrBytes, b.hasIO = v, true
			case "capacity":
				b.capacity, b.hasInfo = v, true
			case "allocation":
				b.allocation, b.hasInfo = v, true
			case "physical":
				b.physical, b.hasInfo = v, true
			}
		case strings.HasPrefix(f, "net."):
			i, key, ok := indexed(f, "net.")
			if !ok {
				continue
			}
			n := nics[i]
			if n == nil {
				n = &nicStats{rxBytes: -1, rxPkts: -1, rxErrs: -1, rxDrop: -1, txBytes: -1, txPkts: -1, txErrs: -1, txDrop: -1}
				nics[i] = n
			}
			switch key {
			case "rx.bytes":
				n.rxBytes = v
			case "rx.pkts":
				n.rxPkts = v
			case "rx.errs":
				n.rxErrs = v
			case "rx.drop":
				n.rxDrop = v
			case "tx.bytes":
				n.txBytes = v
			case "tx.pkts":
				n.txPkts = v
			case "tx.errs":
				n.txErrs = v
			case "tx.drop":
				n.txDrop = v
			}
		}
	}
	// As Ceilometer: the sum of vcpu.N.time + vcpu.N.wait when every
	// current vCPU reports both, else cpu.time.
	if d.vcpus > 0 {
		for i := int64(0); i < vcpuMax; i++ {
			t, ok1 := vcpuTimes["vcpu."+strconv.FormatInt(i, 10)+".time"]
			w, ok2 := vcpuTimes["vcpu."+strconv.FormatInt(i, 10)+".wait"]
			if ok1 && ok2 {
				vcpuTime += t + w
				vcpuN++
			}
		}
		if vcpuN == d.vcpus {
			d.cpuTime = vcpuTime
		}
	}
	for _, i := range sortedKeys(blocks) {
		b := blocks[i]
		if b.dev = names["block."+strconv.Itoa(i)+".name"]; b.dev != "" {
			d.blocks = append(d.blocks, *b)
		}
	}
	for _, i := range sortedKeys(nics) {
		n := nics[i]
		if n.dev = names["net."+strconv.Itoa(i)+".name"]; n.dev != "" {
			d.nics = append(d.nics, *n)
		}
	}
	return d
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// indexed splits "block.3.rd.bytes" into 3 and "rd.bytes".
func indexed(field, prefix string) (int, string, bool) {
	rest := strings.TrimPrefix(field, prefix)
	num, key, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", false
	}
	return i, key, true
}

// memStatNames names the memory stat tags Ceilometer uses.
var memStatNames = map[libvirt.DomainMemoryStatTags]string{
	libvirt.DomainMemoryStatSwapIn:    "swap_in",
	libvirt.DomainMemoryStatSwapOut:   "swap_out",
	libvirt.DomainMemoryStatUnused:    "unused",
	libvirt.DomainMemoryStatAvailable: "available",
	libvirt.DomainMemoryStatUsable:    "usable",
	libvirt.DomainMemoryStatRss:       "rss",
}

// domainGone classifies an error of a per-domain call: the domain was
// undefined (errVanished) or stopped (errStopped) since it was listed.
func domainGone(err error) error {
	var le libvirt.Error
	if !errors.As(err, &le) {
		return nil
	}
	switch libvirt.ErrorNumber(le.Code) {
	case libvirt.ErrNoDomain:
		return errVanished
	case libvirt.ErrOperationInvalid:
		return errStopped
	}
	return nil
}

var (
	errVanished = errors.New("domain vanished")
	errStopped  = errors.New("domain stopped")
)

// deviceError is a failure to read one device of a domain, for the meters
// of group.
type deviceError struct {
	meters []string
	dev    string
	err    error
}

// collectPerCall reads one domain's stats with per-domain calls, for
// drivers without bulk stats. A domain that vanishes or stops half way
// returns errVanished or errStopped; a device that fails is reported in
// devErrs and the rest stands; any other error (connection) is returned.
func collectPerCall(l *libvirt.Libvirt, dom libvirt.Domain, in *instance, n needs) (*domStats, []deviceError, error) {
	d := newDomStats()
	st, _, mem, nv, cpu, err := l.DomainGetInfo(dom)
	if err != nil {
		return nil, nil, classify("get info", err)
	}
	d.state, d.memKiB, d.vcpus = int(st), int64(mem), int64(nv)
	if cpu <= 1<<63-1 {
		d.cpuTime = int64(cpu)
	}
	if !d.active() {
		return d, nil, nil
	}
	var devErrs []deviceError
	if n.memStats {
		ms, err := l.DomainMemoryStats(dom, memStatNrTags, 0)
		if err != nil {
			if g := domainGone(err); g != nil {
				return nil, nil, g
			}
			if !isLibvirtError(err) {
				return nil, nil, fmt.Errorf("memory stats: %w", err)
			}
			devErrs = append(devErrs, deviceError{meters: memStatMeters, err: fmt.Errorf("memory stats: %w", err)})
		}
		for _, s := range ms {
			if name, ok := memStatNames[libvirt.DomainMemoryStatTags(s.Tag)]; ok {
				if d.mem == nil {
					d.mem = make(map[string]int64, 6)
				}
				d.mem[name] = int64(s.Val)
			}
		}
	}
	for _, dev := range in.disks {
		b := blockStats{dev: dev, rdReqs: -1, rdBytes: -1, wrReqs: -1, wrBytes: -1, capacity: -1, allocation: -1, physical: -1}
		if n.blockIO {
			rr, rb, wr, wb, _, err := l.DomainBlockStats(dom, dev)
			switch {
			case err == nil:
				b.rdReqs, b.rdBytes, b.wrReqs, b.wrBytes, b.hasIO = rr, rb, wr, wb, true
			case domainGone(err) != nil:
				return nil, nil, domainGone(err)
			case isLibvirtError(err):
				devErrs = append(devErrs, deviceError{meters: blockIOMeters, dev: dev, err: fmt.Errorf("block stats %s: %w", dev, err)})
			default:
				return nil, nil, fmt.Errorf("block stats %s: %w", dev, err)
			}
		}
		if n.blockInfo {
			alloc, capa, phys, err := l.DomainGetBlockInfo(dom, dev, 0)
			switch {
			case err == nil:
				b.allocation, b.capacity, b.physical, b.hasInfo = clampU(alloc), clampU(capa), clampU(phys), true
			case domainGone(err) != nil:
				return nil, nil, domainGone(err)
			case isLibvirtError(err):
				devErrs = append(devErrs, deviceError{meters: blockInfoMeters, dev: dev, err: fmt.Errorf("block info %s: %w", dev, err)})
			default:
				return nil, nil, fmt.Errorf("block info %s: %w", dev, err)
			}
		}
		if b.hasIO || b.hasInfo {
			d.blocks = append(d.blocks, b)
		}
	}
	if n.net {
		for _, nic := range in.nics {
			rb, rp, re, rd, tb, tp, te, td, err := l.DomainInterfaceStats(dom, nic.dev)
			switch {
			case err == nil:
				d.nics = append(d.nics, nicStats{dev: nic.dev, rxBytes: rb, rxPkts: rp, rxErrs: re, rxDrop: rd, txBytes: tb, txPkts: tp, txErrs: te, txDrop: td})
			case domainGone(err) != nil:
				return nil, nil, domainGone(err)
			case isLibvirtError(err):
				devErrs = append(devErrs, deviceError{meters: netMeters, dev: nic.dev, err: fmt.Errorf("interface stats %s: %w", nic.dev, err)})
			default:
				return nil, nil, fmt.Errorf("interface stats %s: %w", nic.dev, err)
			}
		}
	}
	return d, devErrs, nil
}

func clampU(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// classify wraps err from a per-domain call, turning a domain that is gone
// into errVanished or errStopped.
func classify(what string, err error) error {
	if g := domainGone(err); g != nil {
		return g
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isLibvirtError reports whether err is an error libvirt returned (as
// opposed to a broken connection).
func isLibvirtError(err error) bool {
	var le libvirt.Error
	return errors.As(err, &le)
}
