package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func TestExample(t *testing.T) {
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "empty uri", src: `uri = ""`, want: "uri"},
		{name: "not a uri", src: `uri = "qemu-system"`, want: "is not a libvirt URI"},
		{name: "no socket", src: `socket = ""`, want: "socket"},
		{name: "bad timeout", src: `connect_timeout = "soon"`, want: "connect_timeout"},
		{name: "negative backoff", src: `reconnect_max_backoff = "-1s"`, want: "reconnect_max_backoff"},
		{name: "parallelism", src: `parallelism = 0`, want: "parallelism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			p := sdktest.Start(t, s.Info(), s.Register())
			diags := p.Configure(t, tt.src)
			require.True(t, diags.HasErrors(), "want an error for %s", tt.src)
			require.Contains(t, diags.Error(), tt.want)
		})
	}
}

const novaXML = `<domain type='kvm'>
  <name>instance-0000002a</name>
  <uuid>6f1c0e0e-1b9a-4a53-9d1e-3c7f00000001</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>web-1</nova:name>
      <nova:flavor name="m1.small">
        <nova:memory>2048</nova:memory><nova:disk>20</nova:disk><nova:swap>0</nova:swap>
        <nova:ephemeral>5</nova:ephemeral><nova:vcpus>2</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="user-1">alice</nova:user>
        <nova:project uuid="proj-1">demo</nova:project>
      </nova:owner>
      <nova:root type="image" uuid="img-1"/>
    </nova:instance>
  </metadata>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><target dev='vda'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc'/></disk>
    <interface type='bridge'><mac address='fa:16:3e:00:00:01'/><target dev='tap1'/>
      <filterref filter='nova-instance-x'><parameter name='IP' value='10.0.0.5'/></filterref></interface>
    <interface type='bridge'><mac address='fa:16:3e:00:00:02'/><target dev='tap2'/></interface>
    <interface type='user'><mac address='fa:16:3e:00:00:03'/></interface>
  </devices>
</domain>`

func TestParseDomainXML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		check   func(t *testing.T, in *instance)
		wantErr string
	}{
		{name: "nova", in: novaXML, check: func(t *testing.T, in *instance) {
			require.True(t, in.nova)
			require.Equal(t, "web-1", in.displayName)
			require.Equal(t, "proj-1", in.projectID)
			require.Equal(t, "user-1", in.userID)
			require.Equal(t, "img-1", in.imageID)
			require.Equal(t, map[string]int{"vcpus": 2, "ram": 2048, "disk": 20, "ephemeral": 5, "swap": 0}, in.flavor)
			require.Equal(t, []string{"vda"}, in.disks, "cdroms are not disks")
			require.Len(t, in.nics, 2, "an interface without a target dev is skipped")
			require.Equal(t, "nova-instance-x", in.nics[0].fref)
			require.Equal(t, map[string]string{"ip": "10.0.0.5"}, in.nics[0].params)
			md := in.metadata("compute-1", 1)
			require.Equal(t, "web-1", md["display_name"])
			require.Equal(t, "instance-0000002a", md["name"])
			require.Equal(t, "m1.small", md["instance_type"])
			require.Equal(t, "m1.small", md["flavor.name"])
			require.Equal(t, "2", md["flavor.vcpus"])
			require.Equal(t, "2048", md["flavor.ram"])
			require.Equal(t, "15", md["root_gb"])
			require.Equal(t, "img-1", md["image_ref"])
			require.Equal(t, "running", md["state"])
			require.Equal(t, "active", md["status"])
			require.Equal(t, "compute-1", md["instance_host"])
			require.Len(t, md["host"], 56, "host is Nova's sha224 host id")
		}},
		{name: "nova 1.0 namespace", in: strings.ReplaceAll(novaXML, "nova/1.1", "nova/1.0"), check: func(t *testing.T, in *instance) {
			require.True(t, in.nova)
		}},
		{name: "not nova", in: `<domain><name>x</name><uuid>u</uuid><metadata><other:thing xmlns:other="urn:x"><name>y</name></other:thing></metadata></domain>`, check: func(t *testing.T, in *instance) {
			require.False(t, in.nova)
			require.Equal(t, "x", in.name)
		}},
		{name: "bad flavor number", in: strings.Replace(novaXML, "<nova:vcpus>2<", "<nova:vcpus>two<", 1), wantErr: `nova flavor vcpus: "two" is not an integer`},
		{name: "not xml", in: "<domain", wantErr: "parse domain xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := parseDomainXML(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, in)
		})
	}
}

func tp(field string, v any) libvirt.TypedParam {
	return libvirt.TypedParam{Field: field, Value: libvirt.TypedParamValue{I: v}}
}

// TestBulkStats covers the bulk path, which the test driver cannot show:
// a record as QEMU returns it becomes the same samples as per-call stats.
func TestBulkStats(t *testing.T) {
	t.Parallel()
	rec := []libvirt.TypedParam{
		tp("state.state", int32(1)), tp("state.reason", int32(1)),
		tp("cpu.time", uint64(9_000)), tp("vcpu.current", uint32(2)), tp("vcpu.maximum", uint32(2)),
		tp("vcpu.0.time", uint64(1000)), tp("vcpu.0.wait", uint64(10)),
		tp("vcpu.1.time", uint64(2000)), tp("vcpu.1.wait", uint64(20)),
		tp("balloon.current", uint64(2097152)), tp("balloon.available", uint64(2000000)),
		tp("balloon.usable", uint64(1500000)), tp("balloon.unused", uint64(1400000)),
		tp("balloon.rss", uint64(1048576)), tp("balloon.swap_in", uint64(2048)), tp("balloon.swap_out", uint64(4096)),
		tp("block.count", uint32(2)),
		tp("block.1.name", "vdb"), tp("block.1.rd.bytes", uint64(7)),
		tp("block.0.name", "vda"), tp("block.0.rd.reqs", uint64(1)), tp("block.0.rd.bytes", uint64(512)),
		tp("block.0.wr.reqs", uint64(2)), tp("block.0.wr.bytes", uint64(1024)),
		tp("block.0.capacity", uint64(10<<30)), tp("block.0.allocation", uint64(1<<30)), tp("block.0.physical", uint64(2<<30)),
		tp("net.count", uint32(1)), tp("net.0.name", "tap1"), tp("net.0.rx.bytes", uint64(100)), tp("net.0.rx.pkts", uint64(3)),
		tp("net.0.rx.errs", uint64(0)), tp("net.0.rx.drop", uint64(1)), tp("net.0.tx.bytes", uint64(200)),
		tp("net.0.tx.pkts", uint64(4)), tp("net.0.tx.errs", uint64(0)), tp("net.0.tx.drop", uint64(0)),
		tp("perf.cpu_cycles", uint64(123)), tp("perf.instructions", uint64(456)),
	}
	d := parseBulk(rec)
	require.True(t, d.active())
	require.Equal(t, int64(3030), d.cpuTime, "cpu is the sum of vcpu time and wait when every vcpu reports")
	require.Len(t, d.blocks, 2)
	require.Equal(t, "vda", d.blocks[0].dev)

	p, err := newLibvirt(spec().Defaults, sdktest.Logger(t))
	require.NoError(t, err)
	in, err := parseDomainXML(novaXML)
	require.NoError(t, err)
	want := map[string]bool{}
	for _, m := range meters {
		want[m.Name] = true
	}
	out := p.emit(sample.Resource{ID: in.uuid}, in, d, want, time60())
	got := map[string]float64{}
	for _, s := range out {
		got[s.Name+" "+s.ResourceID] = s.Volume
		require.Equal(t, "proj-1", s.ProjectID)
		require.Equal(t, "user-1", s.UserID)
		require.Equal(t, time60(), s.Timestamp)
	}
	u := in.uuid
	for k, v := range map[string]float64{
		"cpu " + u: 3030, "vcpus " + u: 2, "memory " + u: 2048, "power.state " + u: 1,
		"memory.usage " + u: float64(2000000-1500000) / 1024, "memory.resident " + u: 1024,
		"memory.available " + u: float64(2000000) / 1024, "memory.swap.in " + u: 2, "memory.swap.out " + u: 4,
		"perf.cpu.cycles " + u: 123, "perf.instructions " + u: 456,
		"disk.device.read.bytes " + u + "-vda": 512, "disk.device.write.requests " + u + "-vda": 2,
		"disk.device.capacity " + u + "-vda": 10 << 30, "disk.device.usage " + u + "-vda": 2 << 30,
		"disk.device.read.bytes " + u + "-vdb":          7,
		"network.incoming.bytes nova-instance-x":        100,
		"network.outgoing.packets nova-instance-x":      4,
		"network.incoming.packets.drop nova-instance-x": 1,
	} {
		require.Contains(t, got, k)
		require.InDelta(t, v, got[k], 1e-9, k)
	}
	_, hasVdbCap := got["disk.device.capacity "+u+"-vdb"]
	require.False(t, hasVdbCap, "a value libvirt did not report is not a sample")

	// Without per-vcpu times, cpu is cpu.time; a shut-off domain has only power.state.
	d = parseBulk([]libvirt.TypedParam{tp("state.state", int32(1)), tp("cpu.time", uint64(9000)), tp("vcpu.current", uint32(2)), tp("vcpu.maximum", uint32(2))})
	require.Equal(t, int64(9000), d.cpuTime)
	d = parseBulk([]libvirt.TypedParam{tp("state.state", int32(5))})
	out = p.emit(sample.Resource{ID: in.uuid}, in, d, want, time60())
	require.Len(t, out, 1)
	require.Equal(t, mPowerState, out[0].Name)
	require.Equal(t, "shutdown", out[0].Metadata["state"])
}

func TestVNICResourceID(t *testing.T) {
	t.Parallel()
	p, err := newLibvirt(spec().Defaults, sdktest.Logger(t))
	require.NoError(t, err)
	in, err := parseDomainXML(novaXML)
	require.NoError(t, err)
	d := parseBulk([]libvirt.TypedParam{tp("state.state", int32(1)), tp("net.0.name", "tap2"), tp("net.0.rx.bytes", uint64(5))})
	out := p.emit(sample.Resource{ID: in.uuid}, in, d, map[string]bool{mNetInBytes: true}, time60())
	require.Len(t, out, 1)
	require.Equal(t, "instance-0000002a-6f1c0e0e-1b9a-4a53-9d1e-3c7f00000001-tap2", out[0].ResourceID)
	require.Equal(t, "fa:16:3e:00:00:02", out[0].Metadata["mac"])
	require.Equal(t, "tap2", out[0].Metadata["vnic_name"])
}

func TestUnknownMeterAndMethod(t *testing.T) {
	t.Parallel()
	p, err := newLibvirt(spec().Defaults, sdktest.Logger(t))
	require.NoError(t, err)
	_, err = p.Discover(context.Background(), "all_instances", "")
	require.ErrorContains(t, err, `unknown method "all_instances"`)
}

func TestDomainGone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want error
		lv   bool
	}{
		{name: "no domain", err: libvirt.Error{Code: uint32(libvirt.ErrNoDomain), Message: "Domain not found"}, want: errVanished, lv: true},
		{name: "not running", err: fmt.Errorf("wrapped: %w", libvirt.Error{Code: uint32(libvirt.ErrOperationInvalid)}), want: errStopped, lv: true},
		{name: "other libvirt error", err: libvirt.Error{Code: uint32(libvirt.ErrNoSupport)}, lv: true},
		{name: "connection", err: syscall.EPIPE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, domainGone(tt.err))
			require.Equal(t, tt.lv, isLibvirtError(tt.err))
		})
	}
}

// TestBackoff: with nothing listening, the first poll tries and fails; the
// next ones fail fast without dialing until the backoff has passed.
func TestBackoff(t *testing.T) {
	t.Parallel()
	c := spec().Defaults
	c.Socket = filepath.Join(t.TempDir(), "none.sock")
	c.ReconnectMaxBackoff = "1h"
	p, err := newLibvirt(c, sdktest.Logger(t))
	require.NoError(t, err)
	req := pollster.Request{Meters: []string{mCPU}, Resources: []sample.Resource{{ID: "x"}}}
	_, err = p.Poll(context.Background(), req)
	require.ErrorContains(t, err, "none.sock")
	for range 3 {
		_, err = p.Poll(context.Background(), req)
		require.ErrorIs(t, err, errDisconnected)
		require.ErrorContains(t, err, "next attempt in")
	}
	require.Equal(t, uint64(1), p.Counters()["connect_failures"])
	_, err = p.Discover(context.Background(), discoveryLocalInstances, "")
	require.ErrorIs(t, err, errDisconnected)
	require.NoError(t, p.Close(context.Background()))

	// Over gRPC the host sees Unavailable: a transient upstream failure.
	gc := sdktest.Pollster(t, spec(), fmt.Sprintf("socket = %q", c.Socket))
	_, err = gc.Poll(context.Background(), req)
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
}

func TestRedact(t *testing.T) {
	t.Parallel()
	require.Equal(t, "qemu:///system", redact("qemu:///system"))
	got := redact("qemu+tcp://admin:s3cret@compute-1/system")
	require.NotContains(t, got, "s3cret")
	require.Contains(t, got, "compute-1")
}
