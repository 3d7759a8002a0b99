package meters_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/internal/notification/meters"
	"github.com/altimeter/altimeter/sdk/sample"
)

// load reads a notification fixture (an oslo message as a service sends
// it) from ../testdata.
func load(t testing.TB, name string) *notification.Notification {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	n, err := notification.FromMessage(m)
	require.NoError(t, err)
	return n
}

// byName indexes samples by name, failing on a repeated name.
func byName(t *testing.T, ss []sample.Sample) map[string]sample.Sample {
	t.Helper()
	out := map[string]sample.Sample{}
	for _, s := range ss {
		_, dup := out[s.Name]
		require.False(t, dup, "two samples named %s", s.Name)
		out[s.Name] = s
	}
	return out
}

func names(ss []sample.Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func ts(s string) time.Time {
	t, err := notification.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	instanceID = "9f9d01b9-4a58-4271-9e27-398b21ab20d1"
	nova       = "7c150a59fe714e6f9263774af9688f0e"
	novaUser   = "1e3ce043029547f1a61c1996d1a531a2"
	tenant     = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	user       = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// createEndMeta is the metadata the instance meters of meters.yaml give
// for compute.instance.create.end: deleted_at ("") is left out, and the
// "metering." keys of payload.metadata land under user_metadata.
var createEndMeta = map[string]string{
	"host":                       "vagrant-precise",
	"flavor_id":                  "1",
	"flavor_name":                "m1.tiny",
	"display_name":               "testme",
	"image_ref":                  "0c5a3bd6-3ff2-4a61-85fc-6f2ee1bb1e2c",
	"launched_at":                "2012-05-08T20:23:47.985999",
	"created_at":                 "2012-05-08 20:23:41",
	"user_metadata.stack":        "2f8b0f0c-3c2a-4a07-8f7a-6c1f0e1a2b3c",
	"user_metadata.server_group": "web",
}

// withLegacy runs the legacy meters, then Ceilometer's defaults, as one
// set (the oslo listener with legacy_meters = true): the order the tests
// below expect, from when both were one file.
type withLegacy struct{}

func (withLegacy) Samples(n *notification.Notification) ([]sample.Sample, error) {
	a, errA := meters.Legacy().Samples(n)
	b, errB := meters.Default().Samples(n)
	switch {
	case errors.Is(errA, notification.ErrNoMatch):
		return b, errB
	case errors.Is(errB, notification.ErrNoMatch):
		return a, errA
	}
	return append(a, b...), errors.Join(errA, errB)
}

func TestSamplesDefaults(t *testing.T) {
	t.Parallel()
	d := withLegacy{}
	instance := func(name, unit string, volume float64, userID string, md map[string]string) sample.Sample {
		return sample.Sample{
			Name: name, Type: sample.Gauge, Unit: unit, Volume: volume,
			ResourceID: instanceID, ProjectID: nova, UserID: userID,
			Timestamp: ts("2012-05-08T20:23:48.028195Z"), Source: "openstack",
			MessageID: notification.DerivedID("dae6f69c-00e0-41c0-b371-41ec3b7f4451", name, instanceID),
			Metadata:  md,
		}
	}
	tests := []struct {
		name      string
		fixture   string
		wantNames []string // in Ceilometer's order: the last definition first
		want      []sample.Sample
		// wantMeta checks some metadata of samples whose metadata is the
		// whole payload.
		wantMeta map[string]map[string]string
	}{
		{
			name:    "nova create.end",
			fixture: "compute.instance.create.end",
			wantNames: []string{"instance", "disk.ephemeral.size", "disk.root.size",
				"compute.instance.booting.time", "vcpus", "memory"},
			want: []sample.Sample{
				instance("memory", "MB", 512, novaUser, createEndMeta),
				instance("vcpus", "vcpu", 1, novaUser, createEndMeta),
				instance("disk.root.size", "GB", 1, novaUser, createEndMeta),
				instance("disk.ephemeral.size", "GB", 0, novaUser, createEndMeta),
				// launched_at - created_at; user_id is not configured, so
				// it comes from the context.
				instance("compute.instance.booting.time", "sec", 6.985999, novaUser, createEndMeta),
			},
			wantMeta: map[string]map[string]string{"instance": {
				"host":                      "compute.vagrant-precise", // the publisher, not payload.host
				"event_type":                "compute.instance.create.end",
				"image_meta.base_image_ref": "0c5a3bd6-3ff2-4a61-85fc-6f2ee1bb1e2c",
				"metadata.owner":            "ops",
				"memory_mb":                 "512",
				"access_ip_v4":              "None",
				"fixed_ips":                 `[{'address': '10.0.0.2', 'floating_ips': [], 'label': 'private', 'meta': {}, 'type': 'fixed', 'version': 4, 'vif_mac': 'fa:16:3e:00:00:01'}]`,
			}},
		},
		{
			name:      "nova exists",
			fixture:   "compute.instance.exists",
			wantNames: []string{"instance", "disk.ephemeral.size", "disk.root.size", "vcpus", "memory"},
			want: func() []sample.Sample {
				md := map[string]string{
					"host": "node-2", "flavor_id": "c1.large", "flavor_name": "c1.large", "display_name": "db-1",
					"image_ref": "6b9e1f4e-5d4c-4a43-9e6f-0e2c4f6a1b23", "launched_at": "2024-02-20T10:12:30.000000",
					"created_at": "2024-02-20 10:11:12+00:00",
				}
				mk := func(name, unit string, v float64) sample.Sample {
					const id = "5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
					return sample.Sample{Name: name, Type: sample.Gauge, Unit: unit, Volume: v, ResourceID: id,
						ProjectID: tenant, UserID: user, Timestamp: ts("2024-03-01T00:00:05.120002Z"), Source: "openstack",
						MessageID: notification.DerivedID("4ba0ac0b-4bd0-4e79-9a2b-5d9a1b0d6f11", name, id), Metadata: md}
				}
				return []sample.Sample{mk("memory", "MB", 8192), mk("vcpus", "vcpu", 4), mk("disk.root.size", "GB", 20), mk("disk.ephemeral.size", "GB", 0)}
			}(),
		},
		{
			name:      "cinder create.end",
			fixture:   "volume.create.end",
			wantNames: []string{"volume.size"},
			want: []sample.Sample{{
				Name: "volume.size", Type: sample.Gauge, Unit: "GB", Volume: 10,
				ResourceID: "3f2e1d0c-9b8a-4776-8564-4a3b2c1d0e9f", ProjectID: tenant, UserID: user,
				Timestamp: ts("2024-03-02T08:15:30.5Z"), Source: "openstack",
				MessageID: notification.DerivedID("1c2b3a4d-5e6f-4708-9a1b-2c3d4e5f6a7b", "volume.size", "3f2e1d0c-9b8a-4776-8564-4a3b2c1d0e9f"),
				// The glance_metadata filter finds image_id; no attachment,
				// so no instance_id.
				Metadata: map[string]string{
					"display_name": "data-01", "volume_type": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
					"volume_type_id": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", "image_id": "6b9e1f4e-5d4c-4a43-9e6f-0e2c4f6a1b23",
				},
			}},
		},
		{
			name:      "glance upload",
			fixture:   "image.upload",
			wantNames: []string{"image.size"},
			want: []sample.Sample{{
				Name: "image.size", Type: sample.Gauge, Unit: "B", Volume: 13167616,
				ResourceID: "6b9e1f4e-5d4c-4a43-9e6f-0e2c4f6a1b23", ProjectID: tenant, UserID: user,
				Timestamp: ts("2024-03-03T09:00:00Z"), Source: "openstack",
				MessageID: notification.DerivedID("8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", "image.size", "6b9e1f4e-5d4c-4a43-9e6f-0e2c4f6a1b23"),
			}},
			wantMeta: map[string]map[string]string{"image.size": {
				"host": "image.localhost", "event_type": "image.upload", "name": "ubuntu-22.04",
				"properties.os_distro": "ubuntu", "deleted": "False", "deleted_at": "None", "size": "13167616",
			}},
		},
		{
			name:      "neutron port create.end",
			fixture:   "port.create.end",
			wantNames: []string{"port.create", "port"},
			want: func() []sample.Sample {
				const id = "9c8b7a6f-5e4d-4c3b-a2a1-0f9e8d7c6b5a"
				mk := func(name string, typ sample.Type) sample.Sample {
					return sample.Sample{Name: name, Type: typ, Unit: "port", Volume: 1, ResourceID: id,
						ProjectID: tenant, UserID: user, Timestamp: ts("2024-03-04T10:20:30.40404Z"), Source: "openstack",
						MessageID: notification.DerivedID("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", name, id)}
				}
				return []sample.Sample{mk("port", sample.Gauge), mk("port.create", sample.Delta)}
			}(),
			wantMeta: map[string]map[string]string{"port": {
				"host": "network.controller-1", "event_type": "port.create.end", "port.name": "web-port",
				"port.admin_state_up": "True", "port.mac_address": "fa:16:3e:12:34:56",
			}},
		},
		{
			name:      "keystone authenticate",
			fixture:   "identity.authenticate",
			wantNames: []string{"identity.authenticate.success"},
			want: []sample.Sample{{
				Name: "identity.authenticate.success", Type: sample.Delta, Unit: "user", Volume: 1,
				ResourceID: user, UserID: user, Timestamp: ts("2024-03-06T07:00:00Z"), Source: "openstack",
				MessageID: notification.DerivedID("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "identity.authenticate.success", user),
			}},
			wantMeta: map[string]map[string]string{"identity.authenticate.success": {
				"outcome": "success", "initiator.host.address": "10.0.0.50", "host": "identity.keystone-1",
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Samples(load(t, tc.fixture))
			require.NoError(t, err)
			require.Equal(t, tc.wantNames, names(got))
			idx := byName(t, got)
			for _, w := range tc.want {
				g := idx[w.Name]
				if w.Metadata == nil { // checked through wantMeta
					g.Metadata = nil
				}
				require.Equal(t, w, g, w.Name)
			}
			for name, md := range tc.wantMeta {
				for k, v := range md {
					require.Equal(t, v, idx[name].Metadata[k], "%s metadata %s", name, k)
				}
			}
		})
	}
}

func TestSamplesComputeMetrics(t *testing.T) {
	t.Parallel()
	got, err := meters.Default().Samples(load(t, "compute.metrics.update"))
	require.NoError(t, err)
	require.Len(t, got, 10)
	idx := byName(t, got)
	want := map[string]struct {
		typ    sample.Type
		unit   string
		volume float64
	}{
		"compute.node.cpu.frequency":      {sample.Gauge, "MHz", 2400},
		"compute.node.cpu.user.time":      {sample.Cumulative, "ns", 17421440000000},
		"compute.node.cpu.kernel.time":    {sample.Cumulative, "ns", 7852600000000},
		"compute.node.cpu.idle.time":      {sample.Cumulative, "ns", 1307374400000000},
		"compute.node.cpu.iowait.time":    {sample.Cumulative, "ns", 11697470000000},
		"compute.node.cpu.user.percent":   {sample.Gauge, "percent", 1.2959045637294348},
		"compute.node.cpu.kernel.percent": {sample.Gauge, "percent", 0.5841204961898534},
		"compute.node.cpu.idle.percent":   {sample.Gauge, "percent", 97.24985141658965},
		"compute.node.cpu.iowait.percent": {sample.Gauge, "percent", 0.8701235234910634},
		"compute.node.cpu.percent":        {sample.Gauge, "percent", 2.7501485834103515},
	}
	for name, w := range want {
		s, ok := idx[name]
		require.True(t, ok, name)
		require.Equal(t, w.typ, s.Type, name)
		require.Equal(t, w.unit, s.Unit, name)
		require.InDelta(t, w.volume, s.Volume, 1e-9, name)
		// host + "_" + nodename
		require.Equal(t, "node-1_node-1.example.org", s.ResourceID, name)
		// The metric's own timestamp, not the notification's.
		require.Equal(t, ts("2024-03-05T10:59:58Z"), s.Timestamp, name)
		require.Equal(t, map[string]string{
			"event_type": "compute.metrics.update", "host": "compute.node-1", "source": "libvirt.LibvirtDriver",
		}, s.Metadata, name)
	}
}

func TestSamplesLookup(t *testing.T) {
	t.Parallel()
	n := load(t, "magnum.bay.metrics.update")
	got, err := meters.Default().Samples(n)
	require.NoError(t, err)
	require.Equal(t, []string{"memory.util", "cpu.util"}, names(got))
	for i, w := range []struct {
		name   string
		volume float64
	}{{"memory.util", 41.5}, {"cpu.util", 12}} {
		s := got[i]
		require.Equal(t, w.volume, s.Volume)
		require.Equal(t, "%", s.Unit)
		require.Equal(t, sample.Gauge, s.Type)
		require.Equal(t, "bay-1", s.ResourceID)
		require.Equal(t, user, s.UserID)
		require.Equal(t, tenant, s.ProjectID)
		require.Equal(t, "magnum.bay.metrics.update", s.Metadata["event_type"])
	}
	require.NotEqual(t, got[0].MessageID, got[1].MessageID)
	again, err := meters.Default().Samples(n)
	require.NoError(t, err)
	require.Equal(t, got, again, "a redelivered notification gives the same samples and message IDs")
}

func TestSamplesNotMetered(t *testing.T) {
	t.Parallel()
	d := withLegacy{}
	for _, tc := range []struct {
		name   string
		mutate func(n *notification.Notification)
		reason string
	}{
		{"error priority", func(*notification.Notification) {}, "priority error is not metered"},
		{"create.start excluded by lookahead", func(n *notification.Notification) {
			n.Priority, n.EventType = "INFO", "compute.instance.create.start"
		}, `no meter for event type "compute.instance.create.start"`},
		{"update excluded by lookahead", func(n *notification.Notification) {
			n.Priority, n.EventType = "INFO", "compute.instance.update"
		}, `no meter for event type "compute.instance.update"`},
		{"unknown event type", func(n *notification.Notification) {
			n.Priority, n.EventType = "INFO", "scheduler.select_destinations.end"
		}, `no meter for event type "scheduler.select_destinations.end"`},
		{"warn priority", func(n *notification.Notification) {
			n.Priority, n.EventType = "WARN", "compute.instance.exists"
		}, "priority warn is not metered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := load(t, "compute.instance.create.error")
			tc.mutate(n)
			got, err := d.Samples(n)
			require.Empty(t, got)
			require.ErrorIs(t, err, notification.ErrNoMatch)
			require.ErrorContains(t, err, tc.reason)
		})
	}
	// The same error notification at info priority is metered: the
	// lookahead lets create.error through.
	n := load(t, "compute.instance.create.error")
	n.Priority = "info"
	got, err := d.Samples(n)
	require.NoError(t, err)
	require.Equal(t, []string{"instance", "disk.ephemeral.size", "disk.root.size", "vcpus", "memory"}, names(got))
}

func TestSamplesMappingErrors(t *testing.T) {
	t.Parallel()
	d := withLegacy{}
	tests := []struct {
		name      string
		fixture   string
		mutate    func(p map[string]any)
		wantNames []string
		want      []notification.MappingError
	}{
		{
			name:      "missing payload field",
			fixture:   "compute.instance.exists",
			mutate:    func(p map[string]any) { delete(p, "memory_mb") },
			wantNames: []string{"instance", "disk.ephemeral.size", "disk.root.size", "vcpus"},
			want:      []notification.MappingError{{Definition: `meter "memory"`, Field: "volume", Reason: "$.payload.memory_mb matched nothing"}},
		},
		{
			name:      "non-numeric volume",
			fixture:   "compute.instance.exists",
			mutate:    func(p map[string]any) { p["vcpus"] = "four" },
			wantNames: []string{"instance", "disk.ephemeral.size", "disk.root.size", "memory"},
			want:      []notification.MappingError{{Definition: `meter "vcpus"`, Field: "volume", Reason: `$.payload.vcpus: want a number, got string "four"`}},
		},
		{
			name:      "numeric string volume is a number, as float() reads it",
			fixture:   "volume.create.end",
			mutate:    func(p map[string]any) { p["size"] = "10" },
			wantNames: []string{"volume.size"},
		},
		{
			name:    "null volume",
			fixture: "volume.create.end",
			mutate:  func(p map[string]any) { p["size"] = nil },
			want:    []notification.MappingError{{Definition: `meter "volume.size"`, Field: "volume", Reason: "$.payload.size matched nothing"}},
		},
		{
			name:    "missing resource id",
			fixture: "image.upload",
			mutate:  func(p map[string]any) { delete(p, "id") },
			want:    []notification.MappingError{{Definition: `meter "image.size"`, Field: "resource_id", Reason: "$.payload.id matched nothing"}},
		},
		{
			name:    "bad timestamp in the payload",
			fixture: "compute.metrics.update",
			mutate: func(p map[string]any) {
				p["metrics"].([]any)[0].(map[string]any)["timestamp"] = "yesterday"
			},
			wantNames: []string{"compute.node.cpu.percent", "compute.node.cpu.iowait.percent", "compute.node.cpu.user.percent",
				"compute.node.cpu.idle.percent", "compute.node.cpu.kernel.percent", "compute.node.cpu.iowait.time",
				"compute.node.cpu.idle.time", "compute.node.cpu.kernel.time", "compute.node.cpu.user.time"},
			want: []notification.MappingError{{Definition: `meter "compute.node.cpu.frequency"`, Field: "timestamp",
				Reason: `$.payload.metrics[?(@.name='cpu.frequency')].timestamp: want an ISO 8601 time, got "yesterday"`}},
		},
		{
			// Ceilometer: "skip if no meters in payload", silently.
			name:    "lookup finds no meter: nothing, and no error",
			fixture: "magnum.bay.metrics.update",
			mutate:  func(p map[string]any) { p["metrics"] = []any{} },
		},
		{
			name:    "payload of the wrong shape: no meter either",
			fixture: "magnum.bay.metrics.update",
			mutate:  func(p map[string]any) { p["metrics"] = "none" },
		},
		{
			name:    "lookup lists of different lengths",
			fixture: "magnum.bay.metrics.update",
			mutate: func(p map[string]any) {
				delete(p["metrics"].([]any)[1].(map[string]any), "unit")
			},
			want: []notification.MappingError{{Definition: `meter "$.payload.metrics.[*].name"`, Field: "unit", Reason: "lookup: 1 values for 2 meters"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := load(t, tc.fixture)
			tc.mutate(n.Payload.(map[string]any))
			got, err := d.Samples(n)
			require.Equal(t, tc.wantNames, nilIfEmpty(names(got)))
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.False(t, errors.Is(err, notification.ErrNoMatch))
			var gotErrs []notification.MappingError
			for _, e := range unjoin(err) {
				var me *notification.MappingError
				require.ErrorAs(t, e, &me)
				gotErrs = append(gotErrs, *me)
			}
			require.Equal(t, tc.want, gotErrs)
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// operatorYAML is an operator's own meters file, using the forms
// Ceilometer's syntax allows beyond the shipped file.
const operatorYAML = `---
metric:
  - name: image.size.kb
    event_type: image.upload
    type: gauge
    unit: KB
    volume: $.payload.size / 1024
    resource_id: $.payload.id
    project_id: payload.owner
    metadata:
      distro: "payload.properties.'os_distro'"
      first_disk_format: $.payload[disk_format]
  - name: volume.gib
    event_type: [volume\.create\..*, 'volume\.delete\.end']
    type: gauge
    unit: GiB
    volume: ($.payload.size * 1024 * 1024 * 1024) / (1024 * 1024 * 1024)
    resource_id: $.payload.missing_id|$.payload.volume_id
    user_id: [$.payload.nobody, $.payload.user_id]
    timestamp: $.payload.created_at
    metadata:
      pool: $.payload.host.` + "`split(#, 1, -1)`" + `
      backend: $.payload.host.` + "`split(@, 1, 1)`" + `
      label: $.payload.display_name + "/" + $.payload.status
      nothing: $.payload.snapshot_id
  - name: port.flags
    event_type: never
    type: gauge
    unit: x
    volume: 1
    resource_id: $.payload.port.id
  - name: port.flags
    event_type: port.create.end
    type: gauge
    unit: flags
    volume:
      fields: [$.payload.port.admin_state_up, $.payload.port.status, $.payload.port.device_id]
      plugin:
        name: bitfield
        parameters:
          initial_bitfield: 16
          flags:
            - {path: payload.port.admin_state_up, bit: 0, value: true}
            - {path: payload.port.status, bit: 1, value: ACTIVE}
            - {path: payload.port.device_id, bit: 2}
    resource_id: $.payload.port.id
`

func TestParseOperatorFile(t *testing.T) {
	t.Parallel()
	d, err := meters.Parse([]byte(operatorYAML), "operator.yaml")
	require.NoError(t, err)
	require.Equal(t, 3, d.Len())
	require.Len(t, d.Warnings(), 1)
	require.Contains(t, d.Warnings()[0], `operator.yaml:26:5: metric[2]: skipping duplicate meter "port.flags"`)

	got, err := d.Samples(load(t, "image.upload"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 12859.0, got[0].Volume)
	require.Equal(t, tenant, got[0].ProjectID)
	require.Equal(t, map[string]string{"distro": "ubuntu", "first_disk_format": "qcow2"}, got[0].Metadata)

	got, err = d.Samples(load(t, "volume.create.end"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	s := got[0]
	require.Equal(t, 10.0, s.Volume)
	require.Equal(t, "3f2e1d0c-9b8a-4776-8564-4a3b2c1d0e9f", s.ResourceID)
	require.Equal(t, user, s.UserID)
	require.Equal(t, ts("2024-03-02T08:15:21Z"), s.Timestamp)
	require.Equal(t, map[string]string{"pool": "lvm", "backend": "lvm#lvm", "label": "data-01/available"}, s.Metadata)

	// The bitfield: 16, plus bit 0 (admin_state_up is true); status is
	// DOWN, and device_id is "" but present, which sets bit 2.
	got, err = d.Samples(load(t, "port.create.end"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 16.0+1+4, got[0].Volume)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const head = "metric:\n  - name: m\n    type: gauge\n    unit: x\n    event_type: e\n    resource_id: $.payload.id\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"malformed yaml", "metric:\n  - name: m\n    type: gauge\n  bad\n", "bad.yaml: yaml: line 4: could not find expected ':'"},
		{"not a mapping", "- a\n- b\n", "bad.yaml:1:1: want a mapping with a metric list"},
		{"no metric list", "meters: []\n", "bad.yaml:1:1: no metric list"},
		{"empty", "", "bad.yaml: empty file"},
		{"metric not a list", "metric: {a: b}\n", "bad.yaml:1:9: metric: want a list of definitions"},
		{"missing fields", "metric:\n  - name: m\n    type: gauge\n", `bad.yaml:2:5: metric[0] "m": required fields not specified: event_type, unit, volume, resource_id`},
		{"bad type", strings.Replace(head, "gauge", "counter", 1) + "    volume: 1\n", `bad.yaml:2:5: metric[0] "m": invalid type "counter" specified`},
		{"bad path", head + "    volume: $.payload.[\n", `bad.yaml:2:5: metric[0] "m": volume: parse "$.payload.[": offset 10: missing ]`},
		{"bad filter", head + "    volume: $.payload.a[?(@.b ~ 1)]\n", `volume: parse "$.payload.a[?(@.b ~ 1)]": offset 11: unsupported filter operand "@.b ~ 1"`},
		{"trailing junk", head + "    volume: $.payload.a b\n", `volume: parse "$.payload.a b": offset 12: unexpected 'b'`},
		{"unknown extension", head + "    volume: $.payload.a.`sorted`\n", "volume: parse \"$.payload.a.`sorted`\": offset 12: unsupported extension `sorted`"},
		{"bad regexp", strings.Replace(head, "event_type: e", "event_type: 'compute.(instance'", 1) + "    volume: 1\n", `event_type: regular expression "compute.(instance": `},
		{"lookbehind", strings.Replace(head, "event_type: e", "event_type: '(?<!x)y'", 1) + "    volume: 1\n", `lookbehind at offset 0 is not supported`},
		{"unknown plugin", head + "    volume: {fields: $.payload.a, plugin: median}\n", `volume: plugin: no plugin named "median"`},
		{"fields missing", head + "    volume: {plugin: timedelta}\n", `volume: a mapping needs a fields key`},
		{"lookup with a plugin that returns one value", head + "    volume: {fields: [$.a, $.b], plugin: timedelta}\n    lookup: [volume]\n",
			"volume: its plugin cannot return several values, as lookup needs"},
		{"lookup of a non-attribute", head + "    volume: 1\n    lookup: [colour]\n", `lookup: "colour" is not a sample attribute`},
		{"bad metadata", head + "    volume: 1\n    metadata: [a, b]\n", "metadata: want a mapping"},
		{"bad split parameter", head + "    volume: {fields: $.a, plugin: {name: split, parameters: {segment: one}}}\n", "plugin split: segment: want an integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := meters.Parse([]byte(tc.src), "bad.yaml")
			require.Nil(t, d)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDefaultsParse(t *testing.T) {
	t.Parallel()
	d := meters.Default()
	require.Empty(t, d.Warnings())
	again, err := meters.Parse(meters.DefaultYAML(), "meters.yaml")
	require.NoError(t, err)
	require.Equal(t, d.Len(), again.Len())
	got := d.Meters()
	for _, want := range []string{
		"memory", "vcpus", "disk.root.size", "disk.ephemeral.size", "compute.instance.booting.time",
		"volume.size", "snapshot.size", "backup.size", "image.size", "image.download", "image.serve", "bandwidth",
		"compute.node.cpu.percent", "manila.share.size", "dns.domain.exists", "trove.instance.exists",
	} {
		i := sort.SearchStrings(got, want)
		require.True(t, i < len(got) && got[i] == want, "default meters lack %s", want)
	}

	l := meters.Legacy()
	require.Empty(t, l.Warnings())
	again, err = meters.Parse(meters.LegacyYAML(), "legacy.yaml")
	require.NoError(t, err)
	require.Equal(t, l.Len(), again.Len())
	legacy := []string{
		"instance", "ip.floating", "ip.floating.create", "ip.floating.update", "network", "network.create", "network.update",
		"port", "port.create", "port.update", "router", "router.create", "router.update",
		"stack.create", "stack.delete", "stack.resume", "stack.suspend", "stack.update",
		"subnet", "subnet.create", "subnet.update",
	}
	require.Equal(t, legacy, l.Meters())
	for _, name := range legacy {
		require.NotContains(t, got, name, "a legacy meter is not among Ceilometer's defaults")
	}
}

// TestDefaultEventTypes checks which meters the shipped definitions give
// for event types of every service, as Ceilometer's would.
func TestDefaultEventTypes(t *testing.T) {
	t.Parallel()
	d, l := meters.Default(), meters.Legacy()
	payload := map[string]any{
		"id": "r", "instance_id": "r", "volume_id": "r", "snapshot_id": "r", "image_id": "r", "stack_identity": "r",
		"size": 1.0, "volume_size": 1.0, "bytes_sent": 1.0, "memory_mb": 1.0, "vcpus": 1.0, "root_gb": 1.0, "ephemeral_gb": 0.0,
		"tenant_id": "t", "user_id": "u", "initiator": map[string]any{"id": "u"}, "outcome": "failure",
		"name_to_id": "host@backend#pool", "total": 5.0, "free": 1.0, "allocated": 1.0, "provisioned": 1.0, "virtual_free": 1.0,
	}
	for _, tc := range []struct {
		eventType string
		want      []string // Default's meters, then Legacy's
		legacy    int      // how many of want come from Legacy
	}{
		{"image.send", []string{"image.serve", "image.download"}, 0},
		{"image.delete", []string{"image.size"}, 0},
		{"snapshot.create.end", []string{"snapshot.size"}, 0},
		{"volume.resize.start", []string{"volume.size"}, 0},
		{"volume.retype", []string{"volume.size"}, 0},
		{"compute.instance.delete.end", []string{"disk.ephemeral.size", "disk.root.size", "vcpus", "memory", "instance"}, 1},
		{"orchestration.stack.create.end", []string{"stack.create"}, 1},
		{"orchestration.stack.update.end", []string{"stack.update"}, 1},
		{"orchestration.stack.create.start", nil, 0},
		{"network.create.end", []string{"network.create", "network"}, 2},
		{"network.update.end", []string{"network.update", "network"}, 2},
		{"network.exists", []string{"network"}, 1},
		{"network.delete.end", nil, 0},
		{"floatingip.update.end", []string{"ip.floating.update", "ip.floating"}, 2},
		{"router.create.end", []string{"router.create", "router"}, 2},
		{"subnet.create.end", []string{"subnet.create", "subnet"}, 2},
		{"identity.authenticate", []string{"identity.authenticate.failure"}, 0},
		{"capacity.pool.stats", []string{"volume.provider.pool.capacity.virtual_free", "volume.provider.pool.capacity.provisioned",
			"volume.provider.pool.capacity.allocated", "volume.provider.pool.capacity.free", "volume.provider.pool.capacity.total"}, 0},
	} {
		t.Run(tc.eventType, func(t *testing.T) {
			t.Parallel()
			n := &notification.Notification{MessageID: "m", EventType: tc.eventType, PublisherID: "p",
				Timestamp: time.Unix(0, 0), Payload: payload}
			got, err := d.Samples(n)
			own := tc.want[:len(tc.want)-tc.legacy]
			if len(own) == 0 {
				require.ErrorIs(t, err, notification.ErrNoMatch)
				require.Empty(t, got, "Ceilometer's defaults make no legacy meter")
			} else {
				require.NoError(t, err)
				require.Equal(t, own, names(got), "Ceilometer's defaults make no legacy meter")
			}
			more, err := l.Samples(n)
			if tc.legacy == 0 {
				require.ErrorIs(t, err, notification.ErrNoMatch)
				return
			}
			require.NoError(t, err)
			got = append(got, more...)
			require.Equal(t, tc.want, names(got))
			if tc.eventType == "capacity.pool.stats" {
				require.Equal(t, "host@backend", got[0].Metadata["provider"]) // split at the first #
			}
		})
	}
}

func FuzzSamples(f *testing.F) {
	for _, name := range []string{"compute.instance.create.end", "compute.metrics.update", "magnum.bay.metrics.update", "volume.create.end"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".json"))
		require.NoError(f, err)
		f.Add(name, raw)
	}
	f.Add("identity.authenticate", []byte(`{"payload":{"outcome":7}}`))
	f.Add("compute.instance.exists", []byte(`{"payload":[1,{"a":null}],"timestamp":"x"}`))
	d := meters.Default()
	f.Fuzz(func(t *testing.T, eventType string, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil || m == nil {
			return
		}
		m["event_type"] = eventType
		delete(m, "timestamp")
		n, err := notification.FromMessage(m)
		if err != nil {
			return
		}
		n.Timestamp = time.Unix(1, 0)
		ss, err := d.Samples(n)
		for _, s := range ss {
			if s.Name == "" || s.MessageID == "" || s.Source != "openstack" {
				t.Fatalf("incomplete sample %+v", s)
			}
		}
		if err != nil && len(err.Error()) == 0 {
			t.Fatal("empty error")
		}
	})
}

func BenchmarkSamples(b *testing.B) {
	d := meters.Default()
	n := load(b, "compute.instance.create.end")
	b.ReportAllocs()
	for b.Loop() {
		ss, err := d.Samples(n)
		if err != nil || len(ss) != 6 {
			b.Fatal(err, len(ss))
		}
	}
}

// TestConcurrentUse maps notifications from many goroutines with one
// Definitions (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	d := meters.Default()
	fixtures := []string{"compute.instance.create.end", "compute.instance.exists", "volume.create.end", "image.upload", "magnum.bay.metrics.update"}
	ns := make([]*notification.Notification, len(fixtures))
	want := make([][]sample.Sample, len(fixtures))
	for i, f := range fixtures {
		ns[i] = load(t, f)
		var err error
		want[i], err = d.Samples(ns[i])
		require.NoError(t, err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				k := (g + i) % len(ns)
				got, err := d.Samples(ns[k])
				if err == nil && len(got) != len(want[k]) {
					err = errors.New("different samples")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

// TestJSONNumbers checks that a listener decoding with UseNumber gets the
// same samples.
func TestJSONNumbers(t *testing.T) {
	t.Parallel()
	d := meters.Default()
	for _, f := range []string{"compute.instance.create.end", "compute.metrics.update", "magnum.bay.metrics.update", "volume.create.end"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", f+".json"))
		require.NoError(t, err)
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		n, err := notification.FromMessage(m)
		require.NoError(t, err)
		got, err := d.Samples(n)
		require.NoError(t, err, f)
		want, err := d.Samples(load(t, f))
		require.NoError(t, err, f)
		require.Equal(t, want, got, f)
	}
}

// TestUserMetadataCollision: a "metering." key whose name a metadata field
// of the definition already set is left out of user_metadata; one whose
// field gave nothing is kept.
func TestUserMetadataCollision(t *testing.T) {
	t.Parallel()
	d, err := meters.Parse([]byte(`
metric:
  - name: m
    event_type: x.y
    type: gauge
    unit: B
    volume: $.payload.size
    resource_id: $.payload.id
    user_metadata: $.payload.metadata
    metadata:
      a: $.payload.a
      b: $.payload.b
      zz: $.payload.zz
`), "collide.yaml")
	require.NoError(t, err)
	n := &notification.Notification{EventType: "x.y", MessageID: "m-1", Timestamp: ts("2024-03-02T08:15:21Z"),
		Payload: map[string]any{"size": 1.0, "id": "r", "a": "set", "b": "",
			"metadata": map[string]any{"metering.a": "user-a", "metering.b": "user-b", "metering.c": "user-c", "other": "x"}}}
	got, err := d.Samples(n)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, map[string]string{"a": "set", "user_metadata.b": "user-b", "user_metadata.c": "user-c"}, got[0].Metadata)
}
