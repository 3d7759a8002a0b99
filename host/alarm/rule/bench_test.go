package rule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// BenchmarkEvaluate measures one alarm's evaluation against a real store
// of 2,000 resources with an hour of one-minute cpu_util samples: the
// store query cost per alarm of an evaluation cycle.
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	o := store.Options{Now: func() time.Time { return now }}
	o.Series.RetainEvery = -1
	o.Series.NoSync = true
	st, err := store.Open(ctx, b.TempDir(), o)
	require.NoError(b, err)
	defer st.Close()
	const resources = 2000
	batch := make([]sample.Sample, 0, 1000)
	for m := range 60 {
		ts := now.Add(-time.Duration(60-m) * time.Minute)
		for r := range resources {
			batch = append(batch, sample.Sample{Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: float64(r % 100),
				ResourceID: fmt.Sprintf("vm-%d", r), ProjectID: fmt.Sprintf("p-%d", r%10), UserID: "u", Source: "s", Timestamp: ts})
			if len(batch) == cap(batch) {
				require.NoError(b, st.Write(ctx, batch))
				batch = batch[:0]
			}
		}
	}
	e := NewEvaluator(NewStoreSource(st, series.Options{}), nil)
	for _, c := range []struct{ name, typ, rule string }{
		{"threshold", TypeThreshold, `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","evaluation_periods":3,"query":[{"field":"resource_id","value":"vm-%d"}]}`},
		{"gnocchi_resources", TypeGnocchiResources, `{"metric":"cpu_util","resource_id":"vm-%d","resource_type":"instance","aggregation_method":"mean","threshold":80,"comparison_operator":"gt","evaluation_periods":3}`},
	} {
		rules := make([]Rule, 100)
		for i := range rules {
			rules[i] = mustParseB(b, c.typ, fmt.Sprintf(c.rule, i*17%resources))
		}
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				r := rules[i%len(rules)]
				out, err := e.Evaluate(ctx, Input{ProjectID: fmt.Sprintf("p-%d", i*17%resources%10), Rule: r, State: StateOK}, now)
				if err != nil || out.State == StateInsufficient {
					b.Fatalf("%v %v", out, err)
				}
				i++
			}
		})
	}
}

func mustParseB(b *testing.B, typ, raw string) Rule {
	r, err := Parse(typ, []byte(raw))
	require.NoError(b, err)
	return r
}
