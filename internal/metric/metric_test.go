package metric

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"cpu":                    "cpu",
		"memory.usage":           "memory_usage",
		"hardware.cpu.load.1min": "hardware_cpu_load_1min",
		"disk.device.read.bytes": "disk_device_read_bytes",
		"1min":                   "_1min",
		"a-b/c d":                "a_b_c_d",
		"ns:metric":              "ns:metric",
		"":                       "_",
		"é":                      "__",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, Name(in))
		})
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	m, err := New([]string{"host", "flavor.name", "a:b"})
	require.NoError(t, err)
	got := m.Labels(nil, &Series{
		Meter: "memory.usage", Type: "gauge", Unit: "MB", ResourceID: "r1", ProjectID: "p1",
		Metadata: map[string]string{"flavor.name": "m1.small", "host": "", "other": "x"},
	})
	want := []Label{
		{"__name__", "memory_usage"}, {"flavor_name", "m1.small"}, {"project_id", "p1"},
		{"resource_id", "r1"}, {"type", "gauge"}, {"unit", "MB"},
	}
	require.Empty(t, cmp.Diff(want, got))
	require.Equal(t, []string{"a:b", "flavor.name", "host"}, m.MetadataKeys())
	l, ok := m.MetadataLabel("a:b")
	require.True(t, ok)
	require.Equal(t, "a_b", l)
	require.True(t, m.IsMetadataLabel("flavor_name"))
	require.False(t, m.IsMetadataLabel("resource_id"))

	var zero *Mapping
	require.Len(t, zero.Labels(nil, &Series{Meter: "cpu", ResourceID: "r"}), 2)
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	many := make([]string, MaxMetadataLabels+1)
	for i := range many {
		many[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for name, keys := range map[string][]string{
		"empty":     {""},
		"reserved":  {"project.id", "resource_id"},
		"type":      {"type"},
		"dunder":    {"__x"},
		"collision": {"flavor.name", "flavor_name"},
		"too many":  many,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := New(keys)
			require.Error(t, err)
		})
	}
}

func TestPromType(t *testing.T) {
	t.Parallel()
	require.Equal(t, "counter", PromType("cumulative"))
	require.Equal(t, "gauge", PromType("gauge"))
	require.Equal(t, "gauge", PromType("delta"))
	require.Equal(t, "unknown", PromType("x"))
}
