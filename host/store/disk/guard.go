package disk

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// ErrNoSpace means a write was refused, or failed, for lack of free space in
// the data dir's file system. It is temporary: writes resume by themselves
// once space is back.
var ErrNoSpace = errors.New("not enough free disk space")

// IsNoSpace reports whether err is ErrNoSpace or a file system error saying
// the disk is full or the quota is exhausted.
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Usage is what statfs says about a file system, in bytes.
type Usage struct {
	// Avail is the space an unprivileged writer may still use.
	Avail uint64
	Total uint64
}

// Statfs returns the usage of the file system holding path.
func Statfs(path string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Usage{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize) //nolint:gosec // block sizes are positive
	return Usage{Avail: st.Bavail * bs, Total: st.Blocks * bs}, nil
}

// Reasons a write is refused, as the refusal counter labels them.
const (
	// ReasonMinFree: free space was below the minimum (the Guard refused
	// the write before any engine saw it).
	ReasonMinFree = "min_free"
	// ReasonDiskFull: an engine's write failed with ENOSPC or EDQUOT
	// (something else filled the file system past the minimum).
	ReasonDiskFull = "disk_full"
)

// Guard refuses writes while the file system holding Dir has less than Min
// bytes available, and reports the state once per episode: one error line
// when writes start being refused, one info line when they resume. After a
// refusal it lets writes through again only once free space is back above
// Min plus an eighth (hysteresis), so a disk hovering at the minimum does
// not flap. A Guard is safe for concurrent use.
type Guard struct {
	dir    string
	min    uint64
	resume uint64
	log    hclog.Logger
	statfs atomic.Pointer[func(string) (Usage, error)]

	mu      sync.Mutex // serialises state changes and their log lines
	full    atomic.Bool
	avail   atomic.Uint64
	total   atomic.Uint64
	episode int64 // refusals in the current episode (under mu)

	refusedMinFree  atomic.Int64
	refusedDiskFull atomic.Int64

	descFree, descMin, descFull, descRefused *prometheus.Desc
}

// NewGuard returns a Guard for the file system holding dir, refusing writes
// below min bytes available.
func NewGuard(dir string, min uint64, log hclog.Logger) *Guard {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	g := &Guard{
		dir: dir, min: min, resume: min + min/8, log: log,
		descFree: prometheus.NewDesc("altimeter_store_disk_free_bytes",
			"Bytes available in the file system of the store's data dir, as last measured.", nil, nil),
		descMin: prometheus.NewDesc("altimeter_store_disk_min_free_bytes",
			"Free space below which the store refuses writes (store { min_free_mb }).", nil, nil),
		descFull: prometheus.NewDesc("altimeter_store_disk_full",
			"1 while the store refuses writes for lack of disk space, else 0.", nil, nil),
		descRefused: prometheus.NewDesc("altimeter_store_writes_refused_total",
			"Store writes refused for lack of disk space (answered 503 or Retry): reason min_free when free space was below the minimum, disk_full when an engine hit ENOSPC or EDQUOT.",
			[]string{"reason"}, nil),
	}
	g.SetStatfs(Statfs)
	return g
}

// SetStatfs replaces the statfs call (tests).
func (g *Guard) SetStatfs(fn func(string) (Usage, error)) { g.statfs.Store(&fn) }

// Min is the minimum free space in bytes.
func (g *Guard) Min() uint64 { return g.min }

// Usage measures the file system now.
func (g *Guard) Usage() (Usage, error) {
	u, err := (*g.statfs.Load())(g.dir)
	if err != nil {
		return Usage{}, err
	}
	g.avail.Store(u.Avail)
	g.total.Store(u.Total)
	return u, nil
}

// Check returns nil when a write may go ahead, or an error wrapping
// ErrNoSpace (counted as a refusal). A failed statfs lets the write go
// ahead: the engines report a real ENOSPC themselves.
func (g *Guard) Check() error {
	u, err := g.Usage()
	if err != nil {
		g.log.Debug("measure free space", "error", err)
		return nil
	}
	mark := g.min
	if g.full.Load() {
		mark = g.resume
	}
	if u.Avail >= mark {
		if g.full.Load() {
			g.recovered(u)
		}
		return nil
	}
	g.refuse(ReasonMinFree, u, nil)
	return fmt.Errorf("%w: %s free in %s, below the %s minimum (store min_free_mb)", ErrNoSpace, human(u.Avail), g.dir, human(g.min))
}

// Failed records a write that failed for lack of space although Check let
// it through: writes are refused until free space is back above the resume
// mark. It does nothing unless IsNoSpace(err).
func (g *Guard) Failed(err error) {
	if !IsNoSpace(err) {
		return
	}
	u, uerr := g.Usage()
	if uerr != nil {
		u = Usage{Avail: g.avail.Load(), Total: g.total.Load()}
	}
	g.refuse(ReasonDiskFull, u, err)
}

// Full reports whether writes are being refused.
func (g *Guard) Full() bool { return g.full.Load() }

func (g *Guard) refuse(reason string, u Usage, cause error) {
	if reason == ReasonMinFree {
		g.refusedMinFree.Add(1)
	} else {
		g.refusedDiskFull.Add(1)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.episode++
	if g.full.Swap(true) {
		return
	}
	args := []any{"dir", g.dir, "free", human(u.Avail), "min_free", human(g.min), "resume_at", human(g.resume)}
	if cause != nil {
		args = append(args, "error", cause)
	}
	g.log.Error("disk full: store writes refused (503, publisher retry) until free space is back", args...)
}

func (g *Guard) recovered(u Usage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.full.Swap(false) {
		return
	}
	g.log.Info("disk space back: store writes resume", "dir", g.dir, "free", human(u.Avail), "refused", g.episode)
	g.episode = 0
}

// Describe implements prometheus.Collector.
func (g *Guard) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.descFree
	ch <- g.descMin
	ch <- g.descFull
	ch <- g.descRefused
}

// Collect implements prometheus.Collector: free space is measured at scrape
// time.
func (g *Guard) Collect(ch chan<- prometheus.Metric) {
	avail := g.avail.Load()
	if u, err := g.Usage(); err == nil {
		avail = u.Avail
	}
	full := 0.0
	if g.full.Load() {
		full = 1
	}
	ch <- prometheus.MustNewConstMetric(g.descFree, prometheus.GaugeValue, float64(avail))
	ch <- prometheus.MustNewConstMetric(g.descMin, prometheus.GaugeValue, float64(g.min))
	ch <- prometheus.MustNewConstMetric(g.descFull, prometheus.GaugeValue, full)
	ch <- prometheus.MustNewConstMetric(g.descRefused, prometheus.CounterValue, float64(g.refusedMinFree.Load()), ReasonMinFree)
	ch <- prometheus.MustNewConstMetric(g.descRefused, prometheus.CounterValue, float64(g.refusedDiskFull.Load()), ReasonDiskFull)
}

// human formats bytes in MiB (one decimal) or KiB.
func human(b uint64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", b>>10)
}
