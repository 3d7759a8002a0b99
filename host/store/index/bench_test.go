package index

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

const benchBatch = 1000

func benchDB(b *testing.B) *DB {
	b.Helper()
	db, err := Open(context.Background(), b.TempDir()+"/index.db", hclog.NewNullLogger())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, db.Close()) })
	return db
}

// cpuTime returns the CPU time this process has used: on a machine shared
// with other work it says more than wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRows reports wall and CPU time per row.
func reportRows(b *testing.B, cpu0 time.Duration, rows int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(rows), "cpu-ns/row")
}

func benchMetadata(state string) map[string]string {
	return map[string]string{
		"flavor.name": "m1.small", "flavor.vcpus": "1", "flavor.ram": "2048",
		"host": "compute-1", "image_ref": "5d2d3c3a-fe0e-4a2b-8b4a-1f0a5e6d7c8b", "state": state,
	}
}

// BenchmarkUpsert upserts batches of one update for each of 1000 resources
// with a new sample time per batch; ns/row is per update.
func BenchmarkUpsert(b *testing.B) {
	for _, mode := range []string{"unchanged", "changed", "new"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db := benchDB(b)
			mds := []map[string]string{benchMetadata("active"), benchMetadata("paused")}
			ups := make([]ResourceUpdate, benchBatch)
			for i := range ups {
				ups[i] = ResourceUpdate{ResourceID: fmt.Sprintf("instance-%06d", i), ProjectID: "project", UserID: "user",
					Source: "openstack", Meter: "cpu", Type: "cumulative", Unit: "ns", T: base, Metadata: mds[0]}
			}
			require.NoError(b, db.Upsert(ctx, ups)) // the resources exist (and are cached)
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for n := range b.N {
				t := base.Add(time.Duration(n+1) * time.Second)
				for i := range ups {
					ups[i].T = t
					switch mode {
					case "changed":
						ups[i].Metadata = mds[(n+1)%2]
					case "new":
						ups[i].ResourceID = fmt.Sprintf("instance-%d-%06d", n, i)
					}
				}
				if err := db.Upsert(ctx, ups); err != nil {
					b.Fatal(err)
				}
			}
			reportRows(b, cpu0, b.N*benchBatch)
		})
	}
}

// existsTraits are the 23 traits the default definitions give a
// compute.instance.exists notification (internal/notification/events).
func existsTraits(i int) []sample.Trait {
	id := fmt.Sprintf("5d2d3c3a-fe0e-4a2b-8b4a-%012d", i)
	return []sample.Trait{
		text("tenant_id", "7d2a6f1ae93c4a1e8d0b3b2c1a0f9e8d"), text("user_id", "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"),
		text("instance_id", id), text("display_name", fmt.Sprintf("vm-%d", i)), text("resource_id", id),
		text("cell_name", ""), text("host", "compute-1"), text("service", "compute"),
		integer("memory_mb", 2048), integer("disk_gb", 20), integer("root_gb", 20), integer("ephemeral_gb", 0),
		integer("vcpus", 1), text("instance_type_id", "1"), text("instance_type", "m1.small"), text("state", "active"),
		text("os_architecture", "x86_64"), text("os_version", "22.04"), text("os_distro", "ubuntu"),
		datetime("launched_at", base), datetime("audit_period_beginning", base.Add(-time.Hour)),
		datetime("audit_period_ending", base), text("request_id", "req-"+id),
	}
}

// BenchmarkInsertEvents inserts batches of 1000 new events: with eight
// traits of every type, and with the 23 traits of compute.instance.exists;
// ns/row is per event.
func BenchmarkInsertEvents(b *testing.B) {
	shapes := []struct {
		name   string
		traits func(i int) []sample.Trait
	}{
		{"traits=8", func(i int) []sample.Trait {
			return []sample.Trait{
				text("tenant_id", "project"), text("user_id", "user"),
				text("instance_id", fmt.Sprintf("instance-%06d", i)), text("state", "active"),
				integer("memory_mb", 2048), integer("vcpus", 1),
				float("progress", 0.5), datetime("launched_at", base),
			}
		}},
		{"exists", existsTraits},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			ctx := context.Background()
			db := benchDB(b)
			evs := make([]sample.Event, benchBatch)
			for i := range evs {
				evs[i] = sample.Event{EventType: "compute.instance.exists", Traits: shape.traits(i)}
			}
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for n := range b.N {
				for i := range evs {
					evs[i].MessageID = fmt.Sprintf("msg-%d-%d", n, i)
					evs[i].Generated = base.Add(time.Duration(n*benchBatch+i) * time.Millisecond)
				}
				got, err := db.InsertEvents(ctx, evs, tenant)
				if err != nil {
					b.Fatal(err)
				}
				if got != benchBatch {
					b.Fatalf("inserted %d, want %d", got, benchBatch)
				}
			}
			reportRows(b, cpu0, b.N*benchBatch)
		})
	}
}

// twoVersions writes resources instances, instance-000000 and on, each
// with two metadata versions an hour apart.
func twoVersions(ctx context.Context, b *testing.B, db *DB, resources int) {
	b.Helper()
	for v, state := range []string{"active", "paused"} {
		ups := make([]ResourceUpdate, resources)
		for i := range ups {
			ups[i] = ResourceUpdate{ResourceID: fmt.Sprintf("instance-%06d", i), ProjectID: "project", UserID: "user",
				Source: "openstack", Meter: "cpu", Type: "cumulative", Unit: "ns", T: base.Add(time.Duration(v) * time.Hour),
				Metadata: benchMetadata(state)}
		}
		require.NoError(b, db.Upsert(ctx, ups))
	}
}

// BenchmarkHistoryMiss reads the metadata history of random resources out
// of 10,000 (two versions each) with an empty cache, as a listing of a
// resource not read since the last metadata change does.
func BenchmarkHistoryMiss(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	const resources = 10_000
	twoVersions(ctx, b, db, resources)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for n := range b.N {
		db.hist.invalidate()
		h, err := db.History(ctx, fmt.Sprintf("instance-%06d", (n*7919)%resources))
		if err != nil || len(h) != 2 {
			b.Fatal(len(h), err)
		}
	}
	reportRows(b, cpu0, b.N)
}

// BenchmarkEventQueries reads 20,000 stored compute.instance.exists events
// (23 traits each): a text trait condition that one event meets, alone
// (every event is a candidate) and within a one-minute window, the trait
// names of the type, and the first 100 values of one trait.
func BenchmarkEventQueries(b *testing.B) {
	ctx := context.Background()
	path := b.TempDir() + "/index.db"
	db, err := Open(ctx, path, hclog.NewNullLogger())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, db.Close()) })
	const batches = 20
	for n := range batches {
		evs := make([]sample.Event, benchBatch)
		for i := range evs {
			k := n*benchBatch + i
			evs[i] = sample.Event{MessageID: fmt.Sprintf("msg-%d", k), EventType: "compute.instance.exists",
				Generated: base.Add(time.Duration(k) * 100 * time.Millisecond), Traits: existsTraits(k)}
		}
		_, err := db.InsertEvents(ctx, evs, tenant)
		require.NoError(b, err)
	}
	_, err = db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(b, err)
	st, err := os.Stat(path)
	require.NoError(b, err)
	b.Logf("index.db: %d bytes per event", st.Size()/(batches*benchBatch))
	const k = batches * benchBatch / 2
	id := existsTraits(k)[2].Text
	gen := base.Add(k * 100 * time.Millisecond)
	cases := []struct {
		name string
		run  func() (int, error)
		want int
	}{
		{"trait=eq", func() (int, error) {
			evs, err := db.Events(ctx, EventFilter{Traits: []TraitFilter{{Name: "instance_id", Value: id}}, Limit: 100})
			return len(evs), err
		}, 1},
		{"trait=eq,window=1m", func() (int, error) {
			evs, err := db.Events(ctx, EventFilter{EventType: "compute.instance.exists", Start: gen.Add(-30 * time.Second),
				End: gen.Add(30 * time.Second), Traits: []TraitFilter{{Name: "instance_id", Value: id}}, Limit: 100})
			return len(evs), err
		}, 1},
		{"page=100", func() (int, error) {
			evs, err := db.Events(ctx, EventFilter{Limit: 100})
			return len(evs), err
		}, 100},
		{"trait-descriptions", func() (int, error) {
			ds, err := db.TraitDescriptions(ctx, "compute.instance.exists", "", 0, "")
			return len(ds), err
		}, 23},
		{"trait-values=100", func() (int, error) {
			ts, err := db.Traits(ctx, "compute.instance.exists", "instance_id", "", 100)
			return len(ts), err
		}, 100},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpuTime(b)
			for range b.N {
				got, err := c.run()
				if err != nil || got != c.want {
					b.Fatal(got, err)
				}
			}
			reportRows(b, cpu0, b.N)
		})
	}
}

// BenchmarkHistoryMixed is a mixed load: each op changes the metadata of
// one of 10,000 resources (two versions each), then reads the histories
// of 20 others drawn from 1,000 that listings keep asking about. ns/row
// is per read (the write's cost spread over them); with the cache emptied
// by every write, most reads would miss.
func BenchmarkHistoryMixed(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	const resources, hot, reads = 10_000, 1_000, 20
	twoVersions(ctx, b, db, resources)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for n := range b.N {
		i := hot + (n*7919)%(resources-hot)
		up := ResourceUpdate{ResourceID: fmt.Sprintf("instance-%06d", i), ProjectID: "project", UserID: "user",
			Source: "openstack", Meter: "cpu", Type: "cumulative", Unit: "ns", T: base.Add(time.Duration(2+n) * time.Hour),
			Metadata: benchMetadata(fmt.Sprint("state-", n%3))}
		require.NoError(b, db.Upsert(ctx, []ResourceUpdate{up}))
		for r := range reads {
			h, err := db.History(ctx, fmt.Sprintf("instance-%06d", (n*reads+r)*7%hot))
			if err != nil || len(h) != 2 {
				b.Fatal(len(h), err)
			}
		}
	}
	reportRows(b, cpu0, b.N*reads)
}
