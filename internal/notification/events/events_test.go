package events_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/internal/notification/events"
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

func ts(s string) time.Time {
	t, err := notification.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func text(name, v string) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitText, Text: v}
}
func integer(name string, v int64) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitInt, Int: v}
}
func datetime(name, v string) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitDatetime, Datetime: ts(v)}
}

const (
	tenant = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	user   = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

func TestEventDefaults(t *testing.T) {
	t.Parallel()
	d := events.Default()
	tests := []struct {
		fixture string
		want    sample.Event
	}{
		{
			// compute.instance.create.end is the last definition matching:
			// the instance traits plus availability_zone. deleted_at is ""
			// and not text, so it is left out; cell_name is "" and text, so
			// it stays.
			fixture: "compute.instance.create.end",
			want: sample.Event{
				MessageID: "dae6f69c-00e0-41c0-b371-41ec3b7f4451", EventType: "compute.instance.create.end",
				Generated: ts("2012-05-08T20:23:48.028195Z"),
				Traits: []sample.Trait{
					text("availability_zone", "nova"),
					text("cell_name", ""),
					integer("disk_gb", 0),
					text("display_name", "testme"),
					integer("ephemeral_gb", 0),
					text("host", "vagrant-precise"),
					text("instance_id", "9f9d01b9-4a58-4271-9e27-398b21ab20d1"),
					text("instance_type", "m1.tiny"),
					text("instance_type_id", "2"),
					datetime("launched_at", "2012-05-08T20:23:47.985999Z"),
					integer("memory_mb", 512),
					text("os_architecture", "x86_64"),
					text("project_id", "7c150a59fe714e6f9263774af9688f0e"),
					text("request_id", "req-d68b36e0-9233-467f-9afb-d81435d64d66"),
					text("resource_id", "9f9d01b9-4a58-4271-9e27-398b21ab20d1"),
					integer("root_gb", 1),
					text("service", "compute"),
					text("state", "active"),
					text("tenant_id", "7c150a59fe714e6f9263774af9688f0e"),
					text("user_id", "1e3ce043029547f1a61c1996d1a531a2"),
					integer("vcpus", 1),
				},
			},
		},
		{
			// An error-priority notification still becomes an event, with
			// the generic compute.instance.* definition.
			fixture: "compute.instance.create.error",
			want: sample.Event{
				MessageID: "b1d2a9f0-58a1-4c1e-9a0e-6d1b2c3a4f5e", EventType: "compute.instance.create.error",
				Generated: ts("2024-03-01T12:30:00.000001Z"),
				Traits: []sample.Trait{
					integer("disk_gb", 10),
					text("display_name", "web-9"),
					integer("ephemeral_gb", 0),
					text("host", "node-3"),
					text("instance_id", "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"),
					text("instance_type", "m1.small"),
					text("instance_type_id", "5"),
					integer("memory_mb", 2048),
					text("project_id", tenant),
					text("request_id", "req-5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"),
					text("resource_id", "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"),
					integer("root_gb", 10),
					text("service", "compute"),
					text("state", "error"),
					text("tenant_id", tenant),
					text("user_id", user),
					integer("vcpus", 1),
				},
			},
		},
		{
			// The later of the two volume definitions wins: the cinder
			// traits plus resource_id, host, size and type.
			fixture: "volume.create.end",
			want: sample.Event{
				MessageID: "1c2b3a4d-5e6f-4708-9a1b-2c3d4e5f6a7b", EventType: "volume.create.end",
				Generated: ts("2024-03-02T08:15:30.5Z"),
				Traits: []sample.Trait{
					text("availability_zone", "nova"),
					datetime("created_at", "2024-03-02T08:15:21Z"),
					text("display_name", "data-01"),
					text("host", "cinder-volume@lvm#lvm"),
					text("image_id", "6b9e1f4e-5d4c-4a43-9e6f-0e2c4f6a1b23"),
					text("project_id", tenant),
					text("replication_status", "disabled"),
					text("request_id", "req-9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"),
					text("resource_id", "3f2e1d0c-9b8a-4776-8564-4a3b2c1d0e9f"),
					text("service", "volume.cinder-volume@lvm"),
					integer("size", 10),
					text("status", "available"),
					text("tenant_id", tenant),
					text("type", "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"),
					text("user_id", user),
				},
			},
		},
		{
			// deleted_at is null: no trait. tenant_id falls back to the
			// context's tenant.
			fixture: "image.upload",
			want: sample.Event{
				MessageID: "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", EventType: "image.upload",
				Generated: ts("2024-03-03T09:00:00Z"),
				Traits: []sample.Trait{
					datetime("created_at", "2024-03-03T08:59:50Z"),
					text("name", "ubuntu-22.04"),
					text("project_id", tenant),
					text("request_id", "req-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
					text("resource_id", "6b9e1f4e-5d4c-4a43-9e6f-0e2c4f6a1b23"),
					text("service", "image.localhost"),
					integer("size", 13167616),
					text("status", "active"),
					text("tenant_id", tenant),
					text("user_id", tenant), // payload.owner, as Ceilometer's definition says
				},
			},
		},
		{
			// port.* wins over the shared network definition; tenant_id
			// comes from the context's project_id.
			fixture: "port.create.end",
			want: sample.Event{
				MessageID: "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", EventType: "port.create.end",
				Generated: ts("2024-03-04T10:20:30.40404Z"),
				Traits: []sample.Trait{
					text("name", "web-port"),
					text("project_id", tenant),
					text("request_id", "req-2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"),
					text("resource_id", "9c8b7a6f-5e4d-4c3b-a2a1-0f9e8d7c6b5a"),
					text("service", "network.controller-1"),
					text("tenant_id", tenant),
					text("user_id", user),
				},
			},
		},
		{
			fixture: "identity.authenticate",
			want: sample.Event{
				MessageID: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", EventType: "identity.authenticate",
				Generated: ts("2024-03-06T07:00:00Z"),
				Traits: []sample.Trait{
					text("action", "authenticate"),
					datetime("eventTime", "2024-03-06T07:00:00Z"),
					text("eventType", "activity"),
					text("id", "f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b9c"),
					text("initiator_host_addr", "10.0.0.50"),
					text("initiator_host_agent", "python-keystoneclient"),
					text("initiator_id", user),
					text("initiator_name", "alice"),
					text("initiator_typeURI", "service/security/account/user"),
					text("observer_id", "openstack:0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"),
					text("observer_typeURI", "service/security"),
					text("outcome", "success"),
					text("request_id", "req-7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b"),
					text("service", "identity.keystone-1"),
					text("target_id", "openstack:5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d1c"),
					text("target_typeURI", "service/security/account/user"),
					text("typeURI", "http://schemas.dmtf.org/cloud/audit/1.0/event"),
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			got, ok, err := d.Event(load(t, tc.fixture))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestEventCatchAllAndOptions(t *testing.T) {
	t.Parallel()
	unknown := load(t, "compute.metrics.update") // no shipped definition
	unknown.Raw["_context_request_id"] = "req-x"

	ev, ok, err := events.Default().Event(unknown)
	require.NoError(t, err)
	require.True(t, ok, "kept with the default traits, as drop_unmatched_notifications is false by default")
	require.Equal(t, []sample.Trait{text("request_id", "req-x"), text("service", "compute.node-1")}, ev.Traits)
	require.Nil(t, ev.Raw)

	_, ok, err = events.Default(events.DropUnmatched()).Event(unknown)
	require.NoError(t, err)
	require.False(t, ok)

	// A catch-all in the file itself is used even with DropUnmatched.
	d, err := events.Parse([]byte("- event_type: '*'\n  traits: {host: {fields: payload.host}}\n"), "all.yaml", events.DropUnmatched())
	require.NoError(t, err)
	ev, ok, err = d.Event(unknown)
	require.NoError(t, err)
	require.True(t, ok)
	require.Contains(t, ev.Traits, text("host", "node-1"))

	n := load(t, "compute.instance.create.error")
	for _, tc := range []struct {
		priority string
		opts     []events.Option
		wantOK   bool
		wantRaw  bool
	}{
		{"ERROR", nil, true, false},
		{"ERROR", []events.Option{events.StoreRaw("error")}, true, true},
		{"INFO", []events.Option{events.StoreRaw("error")}, true, false},
		{"info", []events.Option{events.StoreRaw("INFO", "error")}, true, true},
		{"", []events.Option{events.StoreRaw("info")}, true, true},
		{"SAMPLE", nil, false, false},
		{"WARN", nil, false, false},
		{"debug", nil, false, false},
	} {
		m := *n
		m.Priority = tc.priority
		ev, ok, err := events.Default(tc.opts...).Event(&m)
		require.NoError(t, err)
		require.Equal(t, tc.wantOK, ok, tc.priority)
		if !tc.wantRaw {
			require.Nil(t, ev.Raw, tc.priority)
			continue
		}
		var body map[string]any
		require.NoError(t, json.Unmarshal(ev.Raw, &body))
		require.Equal(t, "compute.instance.create.error", body["event_type"])
		require.Equal(t, "compute.node-3", body["publisher_id"])
		require.Equal(t, "req-5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", body["ctxt"].(map[string]any)["request_id"])
		require.Equal(t, "b1d2a9f0-58a1-4c1e-9a0e-6d1b2c3a4f5e", body["metadata"].(map[string]any)["message_id"])
		require.Equal(t, "web-9", body["payload"].(map[string]any)["display_name"])
	}
}

// operatorYAML exercises matching order, exclusions and the trait plugins.
const operatorYAML = `---
- event_type: ['*.start', '*.end', '!scheduler.*']
  traits:
    phase:
      fields: event_type
      plugin: {name: split, parameters: {segment: -1}}
- event_type: '!compute.*'
  traits:
    not_compute: {fields: publisher_id}
- event_type: compute.instance.create.*
  traits:
    flags:
      type: int
      fields: [payload.state, payload.vcpus, payload.image_meta.base_image_ref]
      plugin:
        name: bitfield
        parameters:
          initial_bitfield: 256
          flags:
            - {path: payload.state, bit: 0, value: active}
            - {path: payload.vcpus, bit: 1, value: 1}
            - {path: payload.image_meta.base_image_ref, bit: 2}
            - {path: payload.nothing, bit: 3}
    boot_seconds:
      type: float
      fields: [payload.created_at, payload.launched_at]
      plugin: timedelta
    first_ip:
      fields: payload.fixed_ips[0].address
    zone:
      fields: [payload.no_such_zone, payload.availability_zone]
    memory_text: {fields: payload.memory_mb}
    vcpus_float: {type: float, fields: payload.vcpus}
    service: {fields: payload.host}
    user_id: ctxt.user_name
`

func TestParseOperatorFile(t *testing.T) {
	t.Parallel()
	d, err := events.Parse([]byte(operatorYAML), "operator.yaml", events.DropUnmatched())
	require.NoError(t, err)
	defaults := []sample.Trait{
		text("project_id", "7c150a59fe714e6f9263774af9688f0e"),
		text("request_id", "req-d68b36e0-9233-467f-9afb-d81435d64d66"),
		text("tenant_id", "7c150a59fe714e6f9263774af9688f0e"),
	}
	for _, tc := range []struct {
		eventType string
		wantOK    bool
		want      []sample.Trait
	}{
		// The last definition matches: bitfield 256 + bit 0 (state is
		// active) + bit 1 (vcpus is 1) + bit 2 (base_image_ref exists).
		{"compute.instance.create.end", true, append([]sample.Trait{
			{Name: "boot_seconds", Type: sample.TraitFloat, Float: 6.985999},
			text("first_ip", "10.0.0.2"),
			integer("flags", 256+1+2+4),
			text("memory_text", "512"),
		}, append(defaults[:2:2],
			text("service", "vagrant-precise"),
			defaults[2],
			text("user_id", "admin"),
			sample.Trait{Name: "vcpus_float", Type: sample.TraitFloat, Float: 1},
			text("zone", "nova"),
		)...)},
		// Not compute.instance.create.*; excluded from '!compute.*'; the
		// first definition takes *.end.
		{"compute.instance.delete.end", true, append([]sample.Trait{text("phase", "end")}, append(defaults[:2:2],
			text("service", "compute.vagrant-precise"), defaults[2], text("user_id", "1e3ce043029547f1a61c1996d1a531a2"))...)},
		// Only '!compute.*' matches anything else.
		{"image.delete", true, append([]sample.Trait{text("not_compute", "compute.vagrant-precise")}, append(defaults[:2:2],
			text("service", "compute.vagrant-precise"), defaults[2], text("user_id", "1e3ce043029547f1a61c1996d1a531a2"))...)},
		// Nothing matches and unmatched notifications are dropped.
		{"compute.instance.exists", false, nil},
	} {
		t.Run(tc.eventType, func(t *testing.T) {
			t.Parallel()
			n := load(t, "compute.instance.create.end")
			n.EventType = tc.eventType
			got, ok, err := d.Event(n)
			require.NoError(t, err)
			require.Equal(t, tc.wantOK, ok)
			if !ok {
				return
			}
			require.Equal(t, tc.want, got.Traits)
		})
	}

	ex, err := events.Parse([]byte("- event_type: ['*.start', '!scheduler.*']\n  traits: {}\n"), "ex.yaml", events.DropUnmatched())
	require.NoError(t, err)
	for et, want := range map[string]bool{
		"compute.instance.create.start": true, "scheduler.run_instance.start": false, "compute.instance.create.end": false,
	} {
		n := load(t, "image.upload")
		n.EventType = et
		_, ok, err := ex.Event(n)
		require.NoError(t, err)
		require.Equal(t, want, ok, et)
	}
}

func TestEventConversionErrors(t *testing.T) {
	t.Parallel()
	d := events.Default()
	for _, tc := range []struct {
		name   string
		mutate func(p map[string]any)
		want   notification.MappingError
	}{
		{"int of text", func(p map[string]any) { p["memory_mb"] = "lots" },
			notification.MappingError{Definition: `event "compute.instance.create.end"`, Field: "memory_mb", Reason: `payload.memory_mb: want an integer, got string "lots"`}},
		{"int of a decimal string", func(p map[string]any) { p["vcpus"] = "1.5" },
			notification.MappingError{Definition: `event "compute.instance.create.end"`, Field: "vcpus", Reason: `payload.vcpus: want an integer, got string "1.5"`}},
		{"bad datetime", func(p map[string]any) { p["launched_at"] = "soon" },
			notification.MappingError{Definition: `event "compute.instance.create.end"`, Field: "launched_at", Reason: `payload.launched_at: want an ISO 8601 time, got "soon"`}},
		{"datetime of a number", func(p map[string]any) { p["launched_at"] = 12.0 },
			notification.MappingError{Definition: `event "compute.instance.create.end"`, Field: "launched_at", Reason: `payload.launched_at: want an ISO 8601 time, got float64 12`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := load(t, "compute.instance.create.end")
			tc.mutate(n.Payload.(map[string]any))
			_, ok, err := d.Event(n)
			require.False(t, ok)
			var me *notification.MappingError
			require.ErrorAs(t, err, &me)
			require.Equal(t, tc.want, *me)
		})
	}
	// Python's int() truncates floats and reads integer strings.
	n := load(t, "compute.instance.create.end")
	n.Payload.(map[string]any)["memory_mb"] = 511.9
	n.Payload.(map[string]any)["vcpus"] = " 2 "
	ev, ok, err := d.Event(n)
	require.NoError(t, err)
	require.True(t, ok)
	require.Contains(t, ev.Traits, integer("memory_mb", 511))
	require.Contains(t, ev.Traits, integer("vcpus", 2))
	// A text trait is cut to 255 characters.
	n.Payload.(map[string]any)["display_name"] = strings.Repeat("é", 300)
	ev, _, err = d.Event(n)
	require.NoError(t, err)
	require.Contains(t, ev.Traits, text("display_name", strings.Repeat("é", 255)))
	// No timestamp anywhere.
	n.Timestamp = time.Time{}
	delete(n.Raw, "timestamp")
	_, ok, err = d.Event(n)
	require.False(t, ok)
	require.ErrorContains(t, err, `event "compute.instance.create.end": notification has no timestamp`)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		want string
	}{
		{"malformed yaml", "- event_type: a\n  traits:\n    x: {fields: a\n- event_type: b\n", "bad.yaml: yaml: line 2: did not find expected ',' or '}'"},
		{"not a list", "event_type: a\n", "bad.yaml:1:1: want a list of event definitions"},
		{"no event_type", "- event_type: a\n  traits: {}\n- traits: {}\n", "bad.yaml:3:3: definition 1: required field event_type not specified"},
		{"no traits", "- event_type: a\n", "bad.yaml:1:3: definition 0: required field traits not specified"},
		{"bad trait type", "- event_type: a\n  traits:\n    x: {type: bool, fields: a}\n", "definition 0: trait x: invalid trait type bool (want text, int, float or datetime)"},
		{"no fields", "- event_type: a\n  traits:\n    x: {type: int}\n", "trait x: a mapping needs a fields key"},
		{"bad path", "- event_type: a\n  traits:\n    x: payload..\n", `trait x: parse "payload..": offset 9: expected a field name, got '\x00'`},
		{"unknown plugin", "- event_type: a\n  traits:\n    x: {fields: a, plugin: {name: nope}}\n", `trait x: plugin: no plugin named "nope"`},
		{"plugin without a name", "- event_type: a\n  traits:\n    x: {fields: a, plugin: {parameters: {}}}\n", "trait x: plugin: no plugin name supplied"},
		{"bad bitfield", "- event_type: a\n  traits:\n    x: {fields: a, plugin: {name: bitfield, parameters: {flags: [{path: a, bit: 99}]}}}\n", "plugin bitfield: flags[0]: bit: want an integer from 0 to 62"},
		{"bad event_type", "- event_type: {a: b}\n  traits: {}\n", "event_type: want a string or a list"},
		{"unknown key", "- event_type: a\n  traits:\n    x: {fields: a, filed: b}\n", `trait x: unknown key "filed"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := events.Parse([]byte(tc.src), "bad.yaml")
			require.Nil(t, d)
			require.ErrorContains(t, err, tc.want)
		})
	}
	d, err := events.Parse(nil, "empty.yaml")
	require.NoError(t, err, "an empty file has no definitions, as Ceilometer's default")
	_, ok, err := d.Event(load(t, "image.upload"))
	require.NoError(t, err)
	require.True(t, ok, "the catch-all")
}

func TestDefaultsParse(t *testing.T) {
	t.Parallel()
	d, err := events.Parse(events.DefaultYAML(), "event_definitions.yaml")
	require.NoError(t, err)
	require.NotNil(t, d)
	require.NotNil(t, events.Default())
}

func FuzzEvent(f *testing.F) {
	for _, name := range []string{"compute.instance.create.end", "volume.create.end", "port.create.end", "identity.authenticate"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".json"))
		require.NoError(f, err)
		f.Add(name, raw)
	}
	f.Add("compute.instance.exists", []byte(`{"payload":{"launched_at":{"a":1},"memory_mb":[1]},"_context_request_id":7}`))
	f.Add("network.create.end", []byte(`{"payload":"x","publisher_id":null}`))
	d := events.Default(events.StoreRaw("info", "error"))
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
		ev, ok, err := d.Event(n)
		if err != nil {
			if ok {
				t.Fatal("an event and an error")
			}
			return
		}
		if ok && (ev.EventType != eventType || ev.Raw == nil) {
			t.Fatalf("bad event %+v", ev)
		}
	})
}

func BenchmarkEvent(b *testing.B) {
	d := events.Default()
	n := load(b, "compute.instance.create.end")
	b.ReportAllocs()
	for b.Loop() {
		ev, ok, err := d.Event(n)
		if err != nil || !ok || len(ev.Traits) != 21 {
			b.Fatal(err, ok, len(ev.Traits))
		}
	}
}

// TestConcurrentUse converts notifications from many goroutines with one
// Definitions (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	d := events.Default(events.StoreRaw("info"))
	fixtures := []string{"compute.instance.create.end", "compute.instance.create.error", "volume.create.end", "image.upload", "port.create.end", "identity.authenticate"}
	ns := make([]*notification.Notification, len(fixtures))
	for i, f := range fixtures {
		ns[i] = load(t, f)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				if _, _, err := d.Event(ns[(g+i)%len(ns)]); err != nil {
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
