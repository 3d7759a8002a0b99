package xform

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

func TestSelector(t *testing.T) {
	t.Parallel()
	cases := []struct {
		patterns []string
		yes, no  []string
	}{
		{[]string{"*"}, []string{"cpu", "disk.read.bytes"}, nil},
		{[]string{"cpu"}, []string{"cpu"}, []string{"cpu_util", "memory"}},
		{[]string{"disk.*", "!disk.*.requests"}, []string{"disk.read.bytes"}, []string{"disk.read.requests", "cpu"}},
		{[]string{"!cpu"}, []string{"memory"}, []string{"cpu"}},
		{[]string{"network.*.bytes", "network.*.packets"}, []string{"network.incoming.bytes", "network.outgoing.packets"}, []string{"network.incoming.bytes.rate"}},
	}
	for _, tc := range cases {
		s, err := NewSelector(tc.patterns)
		require.NoError(t, err)
		for range 2 { // the second round reads the cache
			for _, n := range tc.yes {
				require.True(t, s.Match(n), "%v %s", tc.patterns, n)
			}
			for _, n := range tc.no {
				require.False(t, s.Match(n), "%v %s", tc.patterns, n)
			}
		}
	}
	for _, bad := range [][]string{nil, {"["}, {"!"}, {""}} {
		_, err := NewSelector(bad)
		require.Error(t, err, "%q", bad)
		require.Equal(t, "meters", schema.AttributeErrors(err)[0].Attribute)
	}
	// The cache stays bounded.
	s, err := NewSelector([]string{"a*"})
	require.NoError(t, err)
	for i := range 3 * maxCache {
		s.Match(fmt.Sprint("a", i))
	}
	require.LessOrEqual(t, len(s.cache), maxCache)
}

func ptr(s string) *string { return &s }

func TestTarget(t *testing.T) {
	t.Parallel()
	tg, err := NewTarget(TargetConfig{
		MapFrom: ptr(`(disk\.device|disk)\.(read|write)\.(bytes|requests)`), MapTo: ptr("$1.$2.$3.rate"),
		UnitMapFrom: ptr("(B|request)"), UnitMapTo: ptr("$1/s"), Type: ptr("gauge"),
	})
	require.NoError(t, err)
	require.Equal(t, "disk.device.read.bytes.rate", tg.Name("disk.device.read.bytes"))
	require.Equal(t, "disk.write.requests.rate", tg.Name("disk.write.requests"))
	require.Equal(t, "cpu", tg.Name("cpu"), "no match: the name is kept, as re.sub")
	require.Equal(t, "B/s", tg.Unit("B"))
	require.Equal(t, "request/s", tg.Unit("request"))
	require.Equal(t, sample.Gauge, tg.Type(sample.Cumulative))

	fixed, err := NewTarget(TargetConfig{Name: ptr("cpu_util"), Unit: ptr("%")})
	require.NoError(t, err)
	require.Equal(t, "cpu_util", fixed.Name("cpu"))
	require.Equal(t, "%", fixed.Unit("ns"))
	require.Equal(t, sample.Cumulative, fixed.Type(sample.Cumulative))

	empty, err := NewTarget(TargetConfig{MapFrom: ptr(".*"), MapTo: ptr("")})
	require.NoError(t, err)
	require.Equal(t, "cpu", empty.Name("cpu"), "a mapping to nothing keeps the name")

	for _, tc := range []struct {
		c     TargetConfig
		attrs []string
	}{
		{TargetConfig{Name: ptr("")}, []string{"name"}},
		{TargetConfig{Unit: ptr("")}, []string{"unit"}},
		{TargetConfig{Type: ptr("counter")}, []string{"type"}},
		{TargetConfig{MapFrom: ptr("(")}, []string{"map_to"}},
		{TargetConfig{MapFrom: ptr("("), MapTo: ptr("x")}, []string{"map_from"}},
		{TargetConfig{UnitMapTo: ptr("x")}, []string{"unit_map_from"}},
		{TargetConfig{Name: ptr("a"), MapFrom: ptr("a"), MapTo: ptr("b")}, []string{"name"}},
		{TargetConfig{Unit: ptr("a"), UnitMapFrom: ptr("a"), UnitMapTo: ptr("b")}, []string{"unit"}},
	} {
		_, err := NewTarget(tc.c)
		var got []string
		for _, ae := range schema.AttributeErrors(err) {
			got = append(got, ae.Attribute)
		}
		require.Equal(t, tc.attrs, got, "%+v", tc.c)
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	c := NewCache[string, int](time.Minute, 3)
	for i, k := range []string{"a", "b", "c"} {
		*c.Put(k, t0) = i
	}
	require.Equal(t, 0, *c.Get("a", t0.Add(time.Second))) // a is now the most recent
	*c.Put("d", t0.Add(2*time.Second)) = 3                // evicts b, the least recent
	require.Nil(t, c.Get("b", t0.Add(2*time.Second)))
	require.Equal(t, uint64(1), c.Evicted())
	require.Equal(t, 3, c.Len())
	var order []string
	c.Each(func(k string, v *int) bool { order = append(order, k); return true })
	require.Equal(t, []string{"d", "a", "c"}, order)

	// c was last used at t0: 61 s later it is stale for Get, and Expire
	// removes the others that went idle.
	require.Nil(t, c.Get("c", t0.Add(61*time.Second)))
	require.Equal(t, uint64(1), c.Expired())
	require.Equal(t, 2, c.Expire(t0.Add(63*time.Second)))
	require.Equal(t, uint64(3), c.Expired())
	require.Zero(t, c.Len())

	// Freed slots are reused: the slice does not grow past max.
	for i := range 100 {
		k := fmt.Sprint(i)
		if c.Get(k, t0) == nil {
			*c.Put(k, t0) = i
		}
	}
	require.LessOrEqual(t, len(c.ents), 3)
	c.Delete("99")
	require.Nil(t, c.Get("99", t0))
	require.Equal(t, 2, c.Len())

	never := NewCache[string, int](0, 10)
	never.Put("x", t0)
	require.NotNil(t, never.Get("x", t0.Add(1000*time.Hour)), "idle 0: no expiry")
}

// TestCacheRandom drives the cache against a map and a recency list.
func TestCacheRandom(t *testing.T) {
	t.Parallel()
	const max = 50
	c := NewCache[int, int](time.Hour, max)
	now := time.Unix(0, 0)
	var recency []int // least recent first
	model := map[int]int{}
	touch := func(k int) {
		for i, r := range recency {
			if r == k {
				recency = append(recency[:i], recency[i+1:]...)
				break
			}
		}
		recency = append(recency, k)
	}
	for i := range 20000 {
		k := (i * 7919) % 173
		if v := c.Get(k, now); v != nil {
			require.Equal(t, model[k], *v)
			*v = i
			model[k] = i
			touch(k)
			continue
		}
		require.NotContains(t, model, k)
		if len(model) == max {
			delete(model, recency[0])
			recency = recency[1:]
		}
		*c.Put(k, now) = i
		model[k] = i
		touch(k)
		require.Equal(t, len(model), c.Len())
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	a, b := NewIDs("rate_of_change", "cpu_util"), NewIDs("rate_of_change", "disk.rate")
	in := "6f1c4c1e-9b3a-4b57-8a0e-1c2d3e4f5a6b"
	id := a.Derive(in)
	require.Equal(t, id, a.Derive(in), "deterministic")
	require.Equal(t, id, a.Derive(strings.ToUpper(in)), "hex case does not matter")
	require.NotEqual(t, id, b.Derive(in), "another transformer, another id")
	require.NotEqual(t, id, in)
	require.Len(t, id, 36)
	require.Equal(t, byte('4'), id[14], "version 4: version 8 is the store's canonical ids")
	require.Contains(t, "89ab", string(id[19]), "RFC 4122 variant")
	other := a.Derive("not-a-uuid")
	require.Len(t, other, 36)
	require.Equal(t, other, a.Derive("not-a-uuid"))
	require.NotEqual(t, a.Derive(""), a.Derive(""), "no input id: a random one")
	// Distinct inputs, distinct outputs.
	seen := map[string]bool{}
	for i := range 10000 {
		out := a.Derive(sample.FormatUUID([16]byte{byte(i), byte(i >> 8), 0, 0, 0, 0, 0x40, 0, 0x80}))
		require.False(t, seen[out])
		seen[out] = true
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := NewReport(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Warn}), "a", "b")
	r.Add(0, 2)
	r.Add(1, 0)
	r.Add(1, 5)
	require.Equal(t, map[string]uint64{"a": 2, "b": 5}, r.Counters())
	for range 3 {
		r.Warn("dropping sample: scale failed", fmt.Errorf("division by zero"), "meter", "cpu")
	}
	r.Warn("dropping sample: scale failed", fmt.Errorf("other"))
	require.Equal(t, 2, strings.Count(buf.String(), "scale failed"), buf.String())
	for i := range 2 * maxLoggedKinds {
		r.Warn("x", fmt.Errorf("e%d", i))
	}
	require.Equal(t, 1, strings.Count(buf.String(), "too many distinct problems"))
	require.LessOrEqual(t, len(r.logged), maxLoggedKinds+1)
}

func TestLimits(t *testing.T) {
	t.Parallel()
	d, err := Duration("idle_expiry", "10m", time.Second, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 10*time.Minute, d)
	for _, bad := range []string{"", "x", "0s", "2h"} {
		_, err := Duration("idle_expiry", bad, time.Second, time.Hour)
		require.Error(t, err, bad)
	}
	require.NoError(t, Count("size", 5, 1, 10))
	require.Error(t, Count("size", 0, 1, 10))
	u, err := ParseUnmatched("drop")
	require.NoError(t, err)
	require.Equal(t, Drop, u)
	_, err = ParseUnmatched("keep")
	require.Error(t, err)
}

func TestSeries(t *testing.T) {
	t.Parallel()
	ss := NewSeries(time.Hour, 10)
	now := time.Unix(0, 0)
	at := func(name, rid, id string, sec int, v float64) *sample.Sample {
		return &sample.Sample{Name: name, ResourceID: rid, MessageID: id, Volume: v, Timestamp: time.Unix(int64(sec), 0)}
	}
	p, step := ss.Step(at("cpu", "r1", "a", 0, 1), now)
	require.Equal(t, First, step)
	require.Equal(t, 1.0, p.Volume)
	_, step = ss.Step(at("cpu", "r2", "b", 0, 1), now)
	require.Equal(t, First, step, "another resource, another series")
	_, step = ss.Step(at("cpu.delta", "r1", "c", 0, 1), now)
	require.Equal(t, First, step, "another name, another series")
	_, step = ss.Step(at("cp", "ur1", "c", 0, 1), now)
	require.Equal(t, First, step, "name and resource do not run into each other")
	p, step = ss.Step(at("cpu", "r1", "a", 0, 1), now)
	require.Equal(t, Again, step, "the same sample again")
	require.False(t, p.HasOut)
	s := at("cpu", "r1", "d", 10, 5)
	p, step = ss.Step(s, now)
	require.Equal(t, Next, step)
	require.Equal(t, 1.0, p.Volume)
	ss.Accept(p, s)
	p.Record(0.4)
	p, step = ss.Step(at("cpu", "r1", "d", 10, 5), now)
	require.Equal(t, Again, step)
	require.Equal(t, 0.4, p.Out)
	require.Equal(t, 4, ss.Cache.Len())
}
