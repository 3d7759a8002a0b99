package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func allMeters() []string {
	out := make([]string, len(meters))
	for i, m := range meters {
		out[i] = m.Name
	}
	return out
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    cpuTimes
		wantErr string
	}{
		{name: "full", in: "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n", want: cpuTimes{idle: 9, total: 36}},
		{name: "old kernel, 4 fields", in: "cpu 10 0 10 80\n", want: cpuTimes{idle: 80, total: 100}},
		{name: "no cpu line", in: "intr 1\n", wantErr: "no aggregate cpu line"},
		{name: "garbage", in: "cpu 1 x 3 4\n", wantErr: "cpu field 2"},
		{name: "short", in: "cpu 1 2\n", wantErr: "want at least 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStat([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCPUUtil(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		prev, cur cpuTimes
		want      float64
		wantOK    bool
	}{
		{name: "40 percent", prev: cpuTimes{idle: 8400, total: 10000}, cur: cpuTimes{idle: 9000, total: 11000}, want: 40, wantOK: true},
		{name: "idle", prev: cpuTimes{idle: 100, total: 100}, cur: cpuTimes{idle: 200, total: 200}, want: 0, wantOK: true},
		{name: "busy", prev: cpuTimes{idle: 100, total: 100}, cur: cpuTimes{idle: 100, total: 200}, want: 100, wantOK: true},
		{name: "no time elapsed", prev: cpuTimes{idle: 1, total: 2}, cur: cpuTimes{idle: 1, total: 2}},
		{name: "counters reset", prev: cpuTimes{idle: 100, total: 200}, cur: cpuTimes{idle: 10, total: 20}},
		{name: "idle went backwards", prev: cpuTimes{idle: 100, total: 200}, cur: cpuTimes{idle: 90, total: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := cpuUtil(tt.prev, tt.cur)
			require.Equal(t, tt.wantOK, ok)
			require.InDelta(t, tt.want, got, 1e-9)
		})
	}
}

func TestParseKeyed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		sep  byte
		want map[string]uint64
	}{
		{name: "meminfo", sep: ':', in: "MemTotal:  100 kB\nHugePages_Total:       0\nBad: x kB\nnocolon\n", want: map[string]uint64{"MemTotal": 100, "HugePages_Total": 0}},
		{name: "vmstat", sep: ' ', in: "pgpgin 7\npgpgout 9\nweird\n", want: map[string]uint64{"pgpgin": 7, "pgpgout": 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parseKeyed([]byte(tt.in), tt.sep))
		})
	}
}

func TestParseMountinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []mount
		wantErr string
	}{
		{
			name: "optional fields and escapes",
			in:   "28 26 8:17 / /mnt/my\\040disk rw,relatime shared:3 master:1 - xfs /dev/sdb1 rw\n",
			want: []mount{{dev: "8:17", root: "/", point: "/mnt/my disk", fsType: "xfs", source: "/dev/sdb1"}},
		},
		{
			name: "backslash and tab",
			in:   "1 2 0:1 / /a\\134b\\011c rw - ext4 src rw\n",
			want: []mount{{dev: "0:1", root: "/", point: "/a\\b\tc", fsType: "ext4", source: "src"}},
		},
		{name: "no separator", in: "1 2 0:1 / /a rw ext4 src rw\n", wantErr: "malformed line"},
		{name: "truncated after separator", in: "1 2 0:1 / /a rw - ext4\n", wantErr: "malformed line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMountinfo([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, cmp.AllowUnexported(mount{})))
		})
	}
}

func TestDedupeByDevice(t *testing.T) {
	t.Parallel()
	ms := []mount{
		{dev: "1:1", root: "/var/lib/x/hosts", point: "/etc/hosts"},
		{dev: "2:2", root: "/", point: "/boot"},
		{dev: "1:1", root: "/", point: "/"},
		{dev: "1:1", root: "/", point: "/again"},
	}
	got := dedupeByDevice(ms)
	require.Equal(t, []string{"/boot", "/"}, []string{got[0].point, got[1].point})
}

// fixtureHost builds a host over a copy of testdata/proc (so a test can
// rewrite files) with a fake statfs.
func fixtureHost(t *testing.T, c config) (*host, string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("testdata/proc")))
	c.ProcRoot = dir
	h, err := newHost(c, sdktest.Logger(t))
	require.NoError(t, err)
	h.statfs = func(p string) (fsUsage, error) {
		switch p {
		case "/":
			return fsUsage{totalKB: 1000, usedKB: 400}, nil
		case "/boot":
			return fsUsage{}, nil // reported empty: skipped
		case "/mnt/my disk":
			return fsUsage{totalKB: 2000, usedKB: 100}, nil
		}
		return fsUsage{}, fmt.Errorf("statfs %s: %w", p, fs.ErrPermission)
	}
	return h, dir
}

func defaults() config { return spec().Defaults }

type brief struct {
	Name, Unit, Type, RID string
	Volume                float64
	Metadata              map[string]string
}

func briefs(ss []sample.Sample) []brief {
	out := make([]brief, len(ss))
	for i, s := range ss {
		out[i] = brief{Name: s.Name, Unit: s.Unit, Type: s.Type.String(), RID: s.ResourceID, Volume: s.Volume, Metadata: s.Metadata}
	}
	return out
}

func TestPollFixture(t *testing.T) {
	t.Parallel()
	hmd := map[string]string{"host": "fixture-host"}
	nmd := func(n string) map[string]string { return map[string]string{"host": "fixture-host", "name": n} }
	dmd := func(p, dev, fsType string) map[string]string {
		return map[string]string{"host": "fixture-host", "path": p, "device": dev, "fs_type": fsType}
	}
	tests := []struct {
		name     string
		cfg      func(c *config)
		meters   []string
		want     []brief
		wantErrs []string // "resource|meter"
	}{
		{
			name:   "memory, load and io",
			meters: []string{mMemTotal, mMemUsed, mMemBuffer, mMemCached, mSwapTotal, mSwapAvail, mLoad1, mLoad5, mLoad15, mIOInBlocks, mIOOutBlocks},
			want: []brief{
				{mLoad1, "process", "gauge", "fixture-host", 0.52, hmd},
				{mLoad5, "process", "gauge", "fixture-host", 0.58, hmd},
				{mLoad15, "process", "gauge", "fixture-host", 0.59, hmd},
				{mMemTotal, "KB", "gauge", "fixture-host", 16318504, hmd},
				{mMemUsed, "KB", "gauge", "fixture-host", 16318504 - 8123456, hmd},
				{mMemBuffer, "KB", "gauge", "fixture-host", 234567, hmd},
				{mMemCached, "KB", "gauge", "fixture-host", 3456789, hmd},
				{mSwapTotal, "KB", "gauge", "fixture-host", 2097148, hmd},
				{mSwapAvail, "KB", "gauge", "fixture-host", 2000000, hmd},
				{mIOInBlocks, "blocks", "cumulative", "fixture-host", 1439305, hmd},
				{mIOOutBlocks, "blocks", "cumulative", "fixture-host", 2069288, hmd},
			},
		},
		{
			name:   "only what is asked",
			meters: []string{mSwapAvail},
			want:   []brief{{mSwapAvail, "KB", "gauge", "fixture-host", 2000000, hmd}},
		},
		{
			name:   "resource_id override",
			cfg:    func(c *config) { c.ResourceID = "node-7" },
			meters: []string{mLoad1, mNetOutErrors},
			want: []brief{
				{mLoad1, "process", "gauge", "node-7", 0.52, hmd},
				{mNetOutErrors, "packet", "cumulative", "node-7.eth0", 3, nmd("eth0")},
				{mNetOutErrors, "packet", "cumulative", "node-7.docker0", 0, nmd("docker0")},
				{mNetOutErrors, "packet", "cumulative", "node-7.veth1a2b3c", 0, nmd("veth1a2b3c")},
			},
		},
		{
			name:   "network with globs",
			cfg:    func(c *config) { c.ExcludeIfaces = []string{"lo", "veth*", "docker[0-9]"} },
			meters: []string{mNetInBytes, mNetOutBytes},
			want: []brief{
				{mNetInBytes, "B", "cumulative", "fixture-host.eth0", 234186059, nmd("eth0")},
				{mNetOutBytes, "B", "cumulative", "fixture-host.eth0", 952398, nmd("eth0")},
			},
		},
		{
			name:   "network excluding nothing",
			cfg:    func(c *config) { c.ExcludeIfaces = nil },
			meters: []string{mNetInBytes},
			want: []brief{
				{mNetInBytes, "B", "cumulative", "fixture-host.lo", 66812, nmd("lo")},
				{mNetInBytes, "B", "cumulative", "fixture-host.eth0", 234186059, nmd("eth0")},
				{mNetInBytes, "B", "cumulative", "fixture-host.docker0", 1000, nmd("docker0")},
				{mNetInBytes, "B", "cumulative", "fixture-host.veth1a2b3c", 500, nmd("veth1a2b3c")},
			},
		},
		{
			name:   "disks",
			cfg:    func(c *config) { c.ExcludeMountPoints = []string{"/scr*"} },
			meters: []string{mDiskTotal, mDiskUsed},
			want: []brief{
				{mDiskTotal, "KB", "gauge", "fixture-host./", 1000, dmd("/", "/dev/vda", "ext4")},
				{mDiskUsed, "KB", "gauge", "fixture-host./", 400, dmd("/", "/dev/vda", "ext4")},
				{mDiskTotal, "KB", "gauge", "fixture-host./mnt/my disk", 2000, dmd("/mnt/my disk", "/dev/sdb1", "xfs")},
				{mDiskUsed, "KB", "gauge", "fixture-host./mnt/my disk", 100, dmd("/mnt/my disk", "/dev/sdb1", "xfs")},
			},
		},
		{
			name:     "statfs failure is one resource's error",
			meters:   []string{mDiskUsed},
			want:     []brief{{mDiskUsed, "KB", "gauge", "fixture-host./", 400, dmd("/", "/dev/vda", "ext4")}, {mDiskUsed, "KB", "gauge", "fixture-host./mnt/my disk", 100, dmd("/mnt/my disk", "/dev/sdb1", "xfs")}},
			wantErrs: []string{"fixture-host./scratch|" + mDiskUsed},
		},
		{
			name:     "unknown meter",
			meters:   []string{"hardware.cpu.frobs", mLoad15},
			want:     []brief{{mLoad15, "process", "gauge", "fixture-host", 0.59, hmd}},
			wantErrs: []string{"fixture-host|hardware.cpu.frobs"},
		},
		{
			name: "fs types excluded by config",
			cfg: func(c *config) {
				c.ExcludeFSTypes = []string{"ext4", "xfs", "vfat", "proc", "sysfs", "devtmpfs", "tmpfs", "overlay", "squashfs"}
			},
			meters: []string{mDiskTotal},
			want:   []brief{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := defaults()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			h, _ := fixtureHost(t, c)
			before := time.Now().UTC()
			got, err := h.Poll(t.Context(), pollster.Request{Meters: tt.meters})
			require.Empty(t, cmp.Diff(tt.want, briefs(got), cmpopts.EquateEmpty()))
			require.ElementsMatch(t, tt.wantErrs, resourceErrors(t, err))
			for _, s := range got {
				require.Equal(t, "altimeter", s.Source)
				require.Empty(t, s.MessageID, "no natural id: the store keys a reading by series and timestamp")
				require.False(t, s.Timestamp.Before(before))
				require.Equal(t, time.UTC, s.Timestamp.Location())
			}
		})
	}
}

func resourceErrors(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "want joined ResourceErrors, got %v", err)
	var out []string
	for _, e := range j.Unwrap() {
		var re *pollster.ResourceError
		require.ErrorAs(t, e, &re)
		out = append(out, re.ResourceID+"|"+re.Meter)
	}
	return out
}

func TestPollFixtureCPU(t *testing.T) {
	t.Parallel()
	h, dir := fixtureHost(t, defaults())
	req := pollster.Request{Meters: []string{mCPUUtil}}

	got, err := h.Poll(t.Context(), req)
	require.NoError(t, err)
	require.Empty(t, got, "first poll has no interval")

	got, err = h.Poll(t.Context(), req)
	require.NoError(t, err)
	require.Empty(t, got, "no time elapsed")

	stat := "cpu  1300 100 600 8500 500 0 0 0 0 0\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600))
	got, err = h.Poll(t.Context(), req)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, 40.0, got[0].Volume, 1e-9)
	require.Equal(t, "%", got[0].Unit)
}

func TestPollMissingSource(t *testing.T) {
	t.Parallel()
	h, dir := fixtureHost(t, defaults())
	require.NoError(t, os.Remove(filepath.Join(dir, "vmstat")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "meminfo"), []byte("MemTotal: 10 kB\n"), 0o600))

	got, err := h.Poll(t.Context(), pollster.Request{Meters: []string{mIOInBlocks, mIOOutBlocks, mMemTotal, mMemUsed}})
	require.Len(t, got, 1)
	require.Equal(t, mMemTotal, got[0].Name)
	require.ElementsMatch(t, []string{
		"fixture-host|" + mIOInBlocks, "fixture-host|" + mIOOutBlocks, "fixture-host|" + mMemUsed,
	}, resourceErrors(t, err))
	require.ErrorContains(t, err, "meminfo has no MemFree")
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestParseNetDev(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/proc/net/dev")
	require.NoError(t, err)
	tests := []struct {
		name    string
		in      string
		want    []ifStats
		wantErr string
	}{
		{name: "fixture", in: string(b), want: []ifStats{
			{name: "lo", rxBytes: 66812, txBytes: 66812},
			{name: "eth0", rxBytes: 234186059, txBytes: 952398, txErrs: 3},
			{name: "docker0", rxBytes: 1000, txBytes: 2000},
			{name: "veth1a2b3c", rxBytes: 500, txBytes: 600},
		}},
		{name: "short line", in: "eth0: 1 2 3\n", wantErr: "interface eth0: 3 fields"},
		{name: "garbage", in: "eth0: 1 2 3 4 5 6 7 8 x 10 11 12\n", wantErr: "interface eth0 field 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseNetDev([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, cmp.AllowUnexported(ifStats{})))
		})
	}
}

// TestPollBrokenSource: a file procfs cannot parse fails its meters with
// the file named, and the other meters are still polled.
func TestPollBrokenSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, content, meter, want string
	}{
		{"loadavg", "loadavg", "0.5 x 0.7 1/2 3\n", mLoad1, "read loadavg"},
		{"net/dev", "net/dev", "h1\nh2\neth0: 1 2 3\n", mNetInBytes, "parse net/dev: interface eth0: 3 fields"},
		{"meminfo", "meminfo", "MemTotal: x kB\n", mMemTotal, "read meminfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := fixtureHost(t, defaults())
			require.NoError(t, os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600))
			got, err := h.Poll(t.Context(), pollster.Request{Meters: []string{tt.meter, mIOInBlocks}})
			require.ErrorContains(t, err, tt.want)
			require.Len(t, got, 1)
			require.Equal(t, mIOInBlocks, got[0].Name)
		})
	}
}

func TestPollCanceled(t *testing.T) {
	t.Parallel()
	h, _ := fixtureHost(t, defaults())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := h.Poll(ctx, pollster.Request{Meters: allMeters()})
	require.ErrorIs(t, err, context.Canceled)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string // "line: summary"
	}{
		{name: "ok", src: `proc_root = "testdata/proc"`},
		{name: "missing proc_root", src: "\nproc_root = \"testdata/nope\"", want: []string{"2: Invalid value for proc_root"}},
		{name: "empty proc_root", src: `proc_root = ""`, want: []string{"1: Invalid value for proc_root"}},
		{name: "bad mount_prefix", src: `mount_prefix = "testdata/nope"`, want: []string{"1: Invalid value for mount_prefix"}},
		{
			name: "bad globs",
			src:  "exclude_interfaces = [\"lo\", \"eth[\"]\nexclude_mount_points = [\"[\"]\n",
			want: []string{"1: Invalid value for exclude_interfaces", "2: Invalid value for exclude_mount_points"},
		},
		{name: "unknown attribute", src: `interval = "10s"`, want: []string{"1: Unsupported argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			p := sdktest.Start(t, s.Info(), s.Register())
			diags := p.Configure(t, tt.src)
			require.ElementsMatch(t, tt.want, sdktest.Summaries(diags), "diagnostics: %v", diags)
		})
	}
}

// TestRealProc polls this machine's own /proc over real gRPC.
func TestRealProc(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: the host pollster reads /proc, which " + runtime.GOOS + " does not have")
	}
	c := sdktest.Pollster(t, spec(), `exclude_interfaces = []`)
	ctx := t.Context()
	req := pollster.Request{Meters: allMeters()}

	first, err := c.Poll(ctx, req)
	require.NoError(t, err)
	require.Empty(t, first.Errors)
	burnCPU(20 * time.Millisecond)
	second, err := c.Poll(ctx, req)
	require.NoError(t, err)
	require.Empty(t, second.Errors)

	byKey := func(r *pollster.Result) map[string]sample.Sample {
		m := map[string]sample.Sample{}
		for _, s := range r.Samples {
			k := s.Name + "|" + s.ResourceID
			_, dup := m[k]
			require.False(t, dup, "duplicate sample %s", k)
			m[k] = s
		}
		return m
	}
	a, b := byKey(first), byKey(second)
	hostname := readHostname("/proc")
	vol := func(name string) float64 {
		s, ok := b[name+"|"+hostname]
		require.True(t, ok, "no %s sample", name)
		return s.Volume
	}

	require.NotContains(t, a, mCPUUtil+"|"+hostname, "first poll has no cpu.util")
	require.Contains(t, b, mCPUUtil+"|"+hostname)
	require.GreaterOrEqual(t, vol(mCPUUtil), 0.0)
	require.LessOrEqual(t, vol(mCPUUtil), 100.0)
	require.Greater(t, vol(mMemTotal), 0.0)
	require.LessOrEqual(t, vol(mMemUsed), vol(mMemTotal))
	require.LessOrEqual(t, vol(mMemBuffer)+vol(mMemCached), vol(mMemTotal))
	require.LessOrEqual(t, vol(mSwapAvail), vol(mSwapTotal))
	for _, m := range []string{mLoad1, mLoad5, mLoad15} {
		require.GreaterOrEqual(t, vol(m), 0.0)
	}

	var disks, ifaces int
	for k, s := range b {
		require.Equal(t, "altimeter", s.Source)
		require.Equal(t, hostname, s.Metadata["host"])
		switch s.Name {
		case mDiskTotal:
			disks++
			used, ok := b[mDiskUsed+"|"+s.ResourceID]
			require.True(t, ok)
			require.Greater(t, s.Volume, 0.0)
			require.LessOrEqual(t, used.Volume, s.Volume)
			require.Equal(t, hostname+"."+s.Metadata["path"], s.ResourceID)
		case mNetInBytes:
			ifaces++
			require.Equal(t, hostname+"."+s.Metadata["name"], s.ResourceID)
		}
		if s.Type == sample.Cumulative {
			prev, ok := a[k]
			require.True(t, ok, "%s missing in first poll", k)
			require.GreaterOrEqual(t, s.Volume, prev.Volume, "%s went backwards", k)
		}
	}
	require.Positive(t, ifaces, "no network interfaces (lo at least)")
	t.Logf("%d samples, %d filesystems, %d interfaces, cpu.util %.1f%%", len(b), disks, ifaces, vol(mCPUUtil))
	names := make([]string, 0, len(b))
	for k := range b {
		names = append(names, k)
	}
	sort.Strings(names)
	t.Log(strings.Join(names, "\n"))
}

func burnCPU(d time.Duration) {
	x := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		x++
	}
	_ = x
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
