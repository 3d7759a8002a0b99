package main

// What the pollster parses itself, and why not with prometheus/procfs
// (which reads loadavg and meminfo for it, in host.go):
//   - /proc/stat: only the aggregate cpu line is needed, in ticks; procfs
//     parses every line each poll (intr alone has thousands of counters), an
//     error in any of them fails the read, and a file without the aggregate
//     line gives zeros instead of an error.
//   - /proc/vmstat: procfs has no parser for it (its VM is /proc/sys/vm).
//   - /proc/net/dev: procfs v0.22.0's NetDev panics (index out of range) on
//     a line with too few fields: TestPollBrokenSource caught it.
//   - /proc/self/mountinfo: procfs does not undo the kernel's octal escapes
//     (\040 for a space), so mount points with spaces would come out wrong.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// cpuTimes are the aggregate "cpu" counters of /proc/stat, in USER_HZ ticks.
type cpuTimes struct {
	idle, total uint64
}

// parseStat reads the aggregate cpu line of /proc/stat. Idle time is idle +
// iowait; total is user+nice+system+idle+iowait+irq+softirq+steal (guest time
// is already counted in user and nice).
func parseStat(b []byte) (cpuTimes, error) {
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 5 {
			return cpuTimes{}, fmt.Errorf("cpu line has %d fields, want at least 5", len(f))
		}
		var v [8]uint64
		for i := 1; i < len(f) && i <= len(v); i++ {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("cpu field %d: %w", i, err)
			}
			v[i-1] = n
		}
		var t cpuTimes
		for _, n := range v {
			t.total += n
		}
		t.idle = v[3] + v[4]
		return t, nil
	}
	return cpuTimes{}, errors.New("no aggregate cpu line")
}

// cpuUtil is the busy percentage between two readings; ok is false when no
// time elapsed or the counters went backwards (CPU hot-unplug, wrap).
func cpuUtil(prev, cur cpuTimes) (float64, bool) {
	if cur.total <= prev.total || cur.idle < prev.idle {
		return 0, false
	}
	dt := float64(cur.total - prev.total)
	di := float64(cur.idle - prev.idle)
	u := 100 * (dt - di) / dt
	return min(max(u, 0), 100), true
}

// parseKeyed reads "key<sep> value [unit]" lines (/proc/meminfo with ':',
// /proc/vmstat with ' '); lines whose value is not an unsigned integer are
// skipped. Meminfo values are in kB, which is the unit the meters use.
func parseKeyed(b []byte, sep byte) map[string]uint64 {
	m := make(map[string]uint64, 64)
	for line := range bytes.Lines(b) {
		k, rest, ok := bytes.Cut(line, []byte{sep})
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		m[string(bytes.TrimSpace(k))] = v
	}
	return m
}

// ifStats is one interface's line of /proc/net/dev.
type ifStats struct {
	name                     string
	rxBytes, txBytes, txErrs uint64
}

// parseNetDev reads /proc/net/dev: two header lines, then
// "name: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed
// rx_multicast tx_bytes tx_packets tx_errs ...".
func parseNetDev(b []byte) ([]ifStats, error) {
	var out []ifStats
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue // header
		}
		f := bytes.Fields(rest)
		if len(f) < 11 {
			return nil, fmt.Errorf("interface %s: %d fields, want at least 11", bytes.TrimSpace(name), len(f))
		}
		s := ifStats{name: string(bytes.TrimSpace(name))}
		for _, p := range []struct {
			dst *uint64
			i   int
		}{{&s.rxBytes, 0}, {&s.txBytes, 8}, {&s.txErrs, 10}} {
			v, err := strconv.ParseUint(string(f[p.i]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("interface %s field %d: %w", s.name, p.i+1, err)
			}
			*p.dst = v
		}
		out = append(out, s)
	}
	return out, nil
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	dev    string // major:minor
	root   string // the directory of the filesystem mounted here ("/" unless a bind mount)
	point  string
	fsType string
	source string
}

// parseMountinfo reads /proc/<pid>/mountinfo (proc(5)): "id parent
// major:minor root mountpoint options [optional...] - fstype source superopts".
func parseMountinfo(b []byte) ([]mount, error) {
	var out []mount
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 6 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("malformed line %q", strings.TrimSpace(string(line)))
		}
		out = append(out, mount{
			dev: f[2], root: unescapeMount(f[3]), point: unescapeMount(f[4]),
			fsType: f[sep+1], source: unescapeMount(f[sep+2]),
		})
	}
	return out, nil
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space, \011,
// \012, \134) in mountinfo fields.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			sb.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// dedupeByDevice keeps one mount per filesystem (major:minor): the one whose
// root is shortest, i.e. the mount of the filesystem itself rather than a bind
// mount of a directory or file inside it; ties keep the first listed. Order
// follows mountinfo.
func dedupeByDevice(ms []mount) []mount {
	best := make(map[string]int, len(ms))
	for i, m := range ms {
		j, seen := best[m.dev]
		if !seen || len(m.root) < len(ms[j].root) {
			best[m.dev] = i
		}
	}
	out := make([]mount, 0, len(best))
	for i, m := range ms {
		if best[m.dev] == i {
			out = append(out, m)
		}
	}
	return out
}

// fsUsage is what statfs says about one filesystem, in KiB.
type fsUsage struct {
	totalKB, usedKB uint64
}
