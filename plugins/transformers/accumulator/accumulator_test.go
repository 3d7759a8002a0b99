package main

import (
	"testing"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

var (
	smp = xformtest.Sample
	o   = xformtest.O
)

type out = xformtest.Out

func TestTransform(t *testing.T) {
	t.Parallel()
	a := func(sec float64) sample.Sample { return smp("a", sample.Gauge, sec, "r", sec, nil) }
	b := func(sec float64) sample.Sample { return smp("b", sample.Gauge, sec, "r", sec, nil) }
	oa := func(v float64) out { return o("a", "ns", "gauge", "r", v) }
	ob := func(v float64) out { return o("b", "ns", "gauge", "r", v) }
	xformtest.Run(t, spec(), []xformtest.Case{
		{
			// test_flush_pipeline_cache: nothing until size samples.
			Name: "size 10",
			Cfg:  "size = 10",
			Batches: [][]sample.Sample{
				{a(1)}, {a(2)}, {a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10)},
			},
			Want:     [][]out{nil, nil, {oa(1), oa(2), oa(3), oa(4), oa(5), oa(6), oa(7), oa(8), oa(9), oa(10)}},
			Counters: map[string]uint64{"released": 10},
		},
		{
			// test_flush_pipeline_cache_multiple_counter
			Name:    "size 3 over two meters",
			Cfg:     "size = 3",
			Batches: [][]sample.Sample{{a(1), b(1)}, {a(2)}},
			Want:    [][]out{nil, {oa(1), ob(1), oa(2)}},
		},
		{
			// test_flush_pipeline_cache_before_publisher: the default size 1.
			Name:    "default size",
			Cfg:     "",
			Batches: [][]sample.Sample{{a(1)}, {a(2), b(2)}},
			Want:    [][]out{{oa(1)}, {oa(2), ob(2)}},
		},
		{
			Name:     "the host's flush lets go of what is held",
			Cfg:      "size = 10",
			Batches:  [][]sample.Sample{{a(1), a(2), a(3)}},
			Want:     [][]out{nil},
			Flushed:  []out{oa(1), oa(2), oa(3)},
			Counters: map[string]uint64{"flushed": 3, "released": 0},
		},
		{
			Name:    "unmatched samples go on at once, before what is released",
			Cfg:     "meters = [\"a\"]\nsize = 2",
			Batches: [][]sample.Sample{{a(1), b(1)}, {b(2), a(2), b(3)}},
			Want:    [][]out{{ob(1)}, {ob(2), ob(3), oa(1), oa(2)}},
		},
		{
			Name:    "unmatched dropped",
			Cfg:     "meters = [\"a\"]\nunmatched = \"drop\"",
			Batches: [][]sample.Sample{{b(1), a(1)}},
			Want:    [][]out{{oa(1)}},
		},
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	xformtest.CheckConfig(t, spec(), []xformtest.ConfigCase{
		{Name: "defaults", Src: ``},
		{Name: "size zero", Src: `size = 0`, Want: []string{"1: Invalid value for size"}, Detail: "between 1 and 1000000"},
		{Name: "size huge", Src: `size = 1e9`, Want: []string{"1: Invalid value for size"}},
		{Name: "size fraction", Src: `size = 1.5`, Want: []string{"1: Invalid value for size"}},
		{Name: "bad unmatched", Src: `unmatched = 1`, Want: []string{"1: Invalid value for unmatched"}},
	})
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
