// Package xformtest runs the transformer plugins' table tests: batches in
// over real gRPC (sdktest), samples and counters out, and tables of config
// diagnostics. Only tests import it.
package xformtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
	"github.com/altimeter/altimeter/sdk/transformer"
)

// T0 is the time test samples are made relative to.
var T0 = time.Date(2018, 8, 30, 12, 0, 0, 0, time.UTC)

// Sample is a sample at T0 + sec seconds, unit "ns", project "p", user "u",
// with a message id made from vol and sec (the same arguments give the same
// id, as a redelivery does).
func Sample(name string, typ sample.Type, vol float64, rid string, sec float64, md map[string]string) sample.Sample {
	return sample.Sample{
		Name: name, Type: typ, Unit: "ns", Volume: vol, ResourceID: rid, ProjectID: "p", UserID: "u",
		Timestamp: T0.Add(time.Duration(sec * float64(time.Second))), Source: "openstack",
		MessageID: fmt.Sprintf("%08x-0000-4000-8000-%012x", len(name)+len(rid)<<8, uint64(int64(vol)%1e12)^uint64(sec*1000)<<20), Metadata: md,
	}
}

// Out is what a table checks of an output sample.
type Out struct {
	Name, Unit, Type, Resource string
	Volume                     float64
}

// Brief is Out for each sample.
func Brief(ss []sample.Sample) []Out {
	o := make([]Out, 0, len(ss))
	for _, s := range ss {
		o = append(o, Out{s.Name, s.Unit, s.Type.String(), s.ResourceID, s.Volume})
	}
	return o
}

// Case is batches sent in turn to a transformer configured from Cfg, the
// samples each batch gives, the samples Flush gives at the end (when
// Flushed is not nil), and counters the plugin must report at the end.
type Case struct {
	Name     string
	Cfg      string
	Batches  [][]sample.Sample
	Want     [][]Out
	Flushed  []Out
	Counters map[string]uint64
}

// Run runs each case against its own plugin, over real gRPC.
func Run[C any](t *testing.T, spec transformer.Spec[C], cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			require.Len(t, tc.Want, len(tc.Batches), "one Want per batch")
			c := sdktest.Transformer(t, spec, tc.Cfg)
			for i, b := range tc.Batches {
				got, err := c.Transform(t.Context(), &sample.Batch{Samples: b})
				require.NoError(t, err)
				want := tc.Want[i]
				if want == nil {
					want = []Out{}
				}
				require.Equal(t, want, Brief(got.Samples), "batch %d", i)
			}
			if tc.Flushed != nil {
				got, err := c.Flush(t.Context())
				require.NoError(t, err)
				require.Equal(t, tc.Flushed, Brief(got), "flush")
			}
			counters, err := c.Counters(t.Context())
			require.NoError(t, err)
			for k, v := range tc.Counters {
				require.Equal(t, v, counters[k], "counter %s", k)
			}
		})
	}
}

// ConfigCase is a config body and the diagnostics it must give, as
// "LINE: Summary", with text the first one's detail must contain.
type ConfigCase struct {
	Name   string
	Src    string
	Want   []string
	Detail string
}

// CheckConfig configures the plugin over gRPC from each case's body.
func CheckConfig[C any](t *testing.T, spec transformer.Spec[C], cases []ConfigCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			p := sdktest.Start(t, spec.Info(), spec.Register())
			diags := p.Configure(t, tc.Src)
			require.ElementsMatch(t, tc.Want, sdktest.Summaries(diags), "diagnostics: %v", diags)
			if tc.Detail != "" {
				require.Contains(t, diags[0].Detail, tc.Detail)
			}
		})
	}
}

// O is an Out.
func O(name, unit, typ, resource string, volume float64) Out {
	return Out{Name: name, Unit: unit, Type: typ, Resource: resource, Volume: volume}
}
