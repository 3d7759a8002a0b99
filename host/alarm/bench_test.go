package alarm

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/cluster"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Shape of the cycle benchmark: the store benchmark's 10,000 resources,
// with half an hour of one-minute cpu_util samples each (300,000 samples:
// the window a 60 s x 3 periods threshold rule reads, and more), and one
// threshold alarm per resource in 10 projects.
const (
	benchResources = 10_000
	benchMinutes   = 30
)

type nopNotifier struct{ n atomic.Int64 }

func (n *nopNotifier) Notify(context.Context, string, action.Notification) error {
	n.n.Add(1)
	return nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkCycle measures one evaluation cycle of 10,000 threshold alarms
// against a real store: "evaluate-only" is the baseline (the evaluator
// called for every alarm in turn, no scheduler: the store query cost),
// "cycle" the scheduler's steady-state cycle on one member (8 workers, no
// transitions), "cycle-3-members" the share of one of three members.
// Figures: wall ms and CPU-s per cycle, µs of wall per alarm.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Minute)
	o := store.Options{Now: func() time.Time { return now }}
	o.Series.RetainEvery = -1
	o.Series.NoSync = true
	st, err := store.Open(ctx, b.TempDir(), o)
	require.NoError(b, err)
	defer st.Close()
	batch := make([]sample.Sample, 0, 1000)
	for m := range benchMinutes {
		ts := now.Add(-time.Duration(benchMinutes-m) * time.Minute)
		for r := range benchResources {
			batch = append(batch, sample.Sample{Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: float64(r % 100),
				ResourceID: fmt.Sprintf("vm-%05d", r), ProjectID: fmt.Sprintf("p-%d", r%10), UserID: "u", Source: "s", Timestamp: ts})
			if len(batch) == cap(batch) {
				require.NoError(b, st.Write(ctx, batch))
				batch = batch[:0]
			}
		}
	}
	src := rule.NewStoreSource(st, series.Options{})
	eval := rule.NewEvaluator(src, nil)
	node := NewMemNode()
	node.Now = func() time.Time { return now }
	var inputs []rule.Input
	for r := range benchResources {
		raw := json.RawMessage(fmt.Sprintf(`{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","statistic":"avg","period":60,"evaluation_periods":3,"query":[{"field":"resource_id","op":"eq","value":"vm-%05d"}]}`, r))
		rl, err := rule.Parse("threshold", raw)
		require.NoError(b, err)
		canon, err := rl.MarshalJSON()
		require.NoError(b, err)
		a := Alarm{ID: fmt.Sprintf("alarm-%05d", r), Name: fmt.Sprintf("a%05d", r), Type: "threshold", Rule: canon, Enabled: true,
			Severity: "low", ProjectID: fmt.Sprintf("p-%d", r%10), AlarmActions: []string{"log://"}, OKActions: []string{"log://"}}
		require.NoError(b, node.Apply(ctx, Create{Alarm: a, EventID: "e" + a.ID, Limits: DefaultHistoryLimits}))
		inputs = append(inputs, rule.Input{AlarmID: a.ID, ProjectID: a.ProjectID, Type: a.Type, Rule: rl, State: StateInsufficientData})
	}
	nt := &nopNotifier{}
	newSched := func(owns func(string) bool) *Scheduler {
		return NewScheduler(SchedulerOptions{Node: node, Owns: owns, Evaluator: eval, Notifier: nt, Limits: DefaultHistoryLimits,
			Now: func() time.Time { return now }})
	}
	// The first cycle moves every alarm out of insufficient data (10,000
	// transitions, each committed and its action run).
	first := newSched(nil)
	t0, c0 := time.Now(), cpuSeconds()
	stats := first.Cycle(ctx)
	first.wg.Wait()
	b.Logf("first cycle: %d alarms, %d transitions, %s wall, %.2f CPU-s", stats.Evaluated, stats.Transitions, time.Since(t0).Round(time.Millisecond), cpuSeconds()-c0)
	require.Equal(b, benchResources, stats.Transitions)

	report := func(b *testing.B, alarms int, wall time.Duration, cpu float64) {
		n := float64(b.N)
		b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms/cycle")
		b.ReportMetric(cpu/n, "cpu-s/cycle")
		b.ReportMetric(float64(wall.Microseconds())/n/float64(alarms), "µs/alarm")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("evaluate-only", func(b *testing.B) {
		var wall time.Duration
		var cpu float64
		for b.Loop() {
			t0, c0 := time.Now(), cpuSeconds()
			for i := range inputs {
				if _, err := eval.Evaluate(ctx, inputs[i], now); err != nil {
					b.Fatal(err)
				}
			}
			wall += time.Since(t0)
			cpu += cpuSeconds() - c0
		}
		report(b, len(inputs), wall, cpu)
	})
	b.Run("cycle", func(b *testing.B) {
		s := newSched(nil)
		s.Cycle(ctx) // parses and caches the rules
		var wall time.Duration
		var cpu float64
		for b.Loop() {
			t0, c0 := time.Now(), cpuSeconds()
			st := s.Cycle(ctx)
			wall += time.Since(t0)
			cpu += cpuSeconds() - c0
			if st.Evaluated != benchResources || st.Transitions != 0 || st.Errors != 0 {
				b.Fatalf("unexpected cycle %+v", st)
			}
		}
		report(b, benchResources, wall, cpu)
	})
	b.Run("cycle-3-members", func(b *testing.B) {
		live := []fsm.Member{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}
		s := newSched(func(id string) bool { return cluster.AssignAlarm(live, id) == "n1" })
		s.Cycle(ctx)
		var wall time.Duration
		var cpu float64
		var n int
		for b.Loop() {
			t0, c0 := time.Now(), cpuSeconds()
			st := s.Cycle(ctx)
			wall += time.Since(t0)
			cpu += cpuSeconds() - c0
			n = st.Evaluated
		}
		report(b, n, wall, cpu)
	})
}
