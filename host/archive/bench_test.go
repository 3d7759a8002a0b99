package archive

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// typical builds the i-th of a stream of realistic notifications: the
// real-format fixtures of internal/notification with distinct ids,
// requests (five notifications each), hosts and times.
func typical(tb testing.TB) func(i int) sample.Notification {
	tb.Helper()
	files, err := filepath.Glob("../../internal/notification/testdata/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("fixtures: %v", err)
	}
	bodies := make([][]byte, len(files))
	types := make([]string, len(files))
	for i, f := range files {
		if bodies[i], err = os.ReadFile(f); err != nil {
			tb.Fatal(err)
		}
		types[i] = filepath.Base(f[:len(f)-len(".json")])
	}
	return func(i int) sample.Notification {
		k := i % len(bodies)
		// The body differs per notification where real ones do (ids).
		raw := append([]byte(`{"message_id":"`+strconv.Itoa(i)+`","_context_request_id":"req-`+strconv.Itoa(i/5)+`",`), bodies[k][1:]...)
		return sample.Notification{
			MessageID: fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i), EventType: types[k], Priority: "info",
			PublisherID: "compute.host-" + strconv.Itoa(i%50), Timestamp: t0.Add(time.Duration(i) * 864 * time.Millisecond),
			RequestID: "req-" + strconv.Itoa(i/5), ProjectID: "p-" + strconv.Itoa(i%100), UserID: "u-" + strconv.Itoa(i%300),
			ResourceID: "vm-" + strconv.Itoa(i%20000), Raw: raw,
		}
	}
}

// BenchmarkArchivePut is archive ingest, 500 typical notifications per
// Put (a listener batch), against a baseline in the same run: the same
// rows in one SQLite table with no secondary index and no compression.
func BenchmarkArchivePut(b *testing.B) {
	gen := typical(b)
	const batch = 500
	b.Run("archive", func(b *testing.B) {
		db := openTest(b)
		ctx := context.Background()
		ns := make([]sample.Notification, batch)
		b.ResetTimer()
		for i := range b.N {
			for j := range ns {
				ns[j] = gen(i*batch + j)
			}
			if err := db.Put(ctx, ns); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		st, err := db.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// The file's size once the WAL is checkpointed into it.
		if _, err := db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(db.path)
		if err != nil {
			b.Fatal(err)
		}
		size := fi.Size()
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "notifications/s")
		b.ReportMetric(float64(st.RawBytes)/float64(st.Count), "raw-B/notification")
		b.ReportMetric(float64(st.StoredBytes)/float64(st.Count), "zstd-B/notification")
		b.ReportMetric(float64(size)/float64(st.Count), "file-B/notification")
	})
	b.Run("baseline", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "plain.db")
		w, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		w.SetMaxOpenConns(1)
		if _, err := w.Exec(`CREATE TABLE n (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, event_type TEXT, ts INTEGER, raw BLOB)`); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			tx, err := w.Begin()
			if err != nil {
				b.Fatal(err)
			}
			st, err := tx.Prepare(`INSERT OR IGNORE INTO n (message_id, event_type, ts, raw) VALUES (?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			for j := range batch {
				n := gen(i*batch + j)
				if _, err := st.Exec(n.MessageID, n.EventType, n.Timestamp.UnixNano(), n.Raw); err != nil {
					b.Fatal(err)
				}
			}
			_ = st.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "notifications/s")
	})
}

// searchN is the size of the archive the search benchmark reads.
var searchN = func() int {
	if v, err := strconv.Atoi(os.Getenv("ARCHIVE_BENCH_N")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}()

var (
	searchOnce sync.Once
	searchDB   *DB
	searchDir  string
	searchErr  error
)

// BenchmarkArchiveSearch searches an archive of searchN (ARCHIVE_BENCH_N,
// default one million) typical notifications over ten days, built once per
// process: one request's notifications by request_id, and one event_type
// in a one-hour range (limit 1000), exact and as a glob.
func BenchmarkArchiveSearch(b *testing.B) {
	gen := typical(b)
	searchOnce.Do(func() {
		searchDir, searchErr = os.MkdirTemp("", "archive-bench-")
		if searchErr != nil {
			return
		}
		ctx := context.Background()
		if searchDB, searchErr = Open(ctx, filepath.Join(searchDir, "archive.db"), nil); searchErr != nil {
			return
		}
		start := time.Now()
		ns := make([]sample.Notification, 0, 5000)
		for i := range searchN {
			ns = append(ns, gen(i))
			if len(ns) == cap(ns) || i == searchN-1 {
				if searchErr = searchDB.Put(ctx, ns); searchErr != nil {
					return
				}
				ns = ns[:0]
			}
		}
		b.Logf("built an archive of %d notifications in %s", searchN, time.Since(start).Round(time.Second))
	})
	if searchErr != nil {
		b.Fatal(searchErr)
	}
	ctx := context.Background()
	mid := searchN / 2
	cases := []struct {
		name string
		f    Filter
		want int
	}{
		{"request_id", Filter{RequestID: "req-" + strconv.Itoa(mid/5)}, 5},
		{"event_type+1h", Filter{EventType: "compute.instance.exists", Start: t0.Add(time.Duration(mid) * 864 * time.Millisecond), Limit: 1000}, 0},
		{"glob+1h", Filter{EventType: "compute.instance.*", Start: t0.Add(time.Duration(mid) * 864 * time.Millisecond), Limit: 1000}, 0},
		{"scoped request_id", Filter{Scope: "p-" + strconv.Itoa(mid%100), RequestID: "req-" + strconv.Itoa(mid/5)}, 1},
	}
	for _, tc := range cases {
		if !tc.f.Start.IsZero() {
			tc.f.End = tc.f.Start.Add(time.Hour)
		}
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				es, err := searchDB.List(ctx, tc.f)
				if err != nil {
					b.Fatal(err)
				}
				if tc.want > 0 && len(es) != tc.want {
					b.Fatalf("got %d rows, want %d", len(es), tc.want)
				}
				if tc.want == 0 && len(es) == 0 {
					b.Fatal("no rows")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/search")
		})
	}
}

// TestMain removes the search benchmark's archive, which lives for the
// whole process so that -count runs share it.
func TestMain(m *testing.M) {
	code := m.Run()
	if searchDB != nil {
		_ = searchDB.Close()
	}
	if searchDir != "" {
		_ = os.RemoveAll(searchDir)
	}
	os.Exit(code)
}
