package series

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/hashicorp/go-hclog"
)

// ErrClosed is returned by calls on a closed DB.
var ErrClosed = errors.New("series db closed")

// ErrBroken means an earlier write failed half way in memory; reopen the DB.
var ErrBroken = errors.New("series db broken by an earlier write failure")

// series is the in-memory catalog entry of one series.
type series struct {
	id  ID
	key Key
	pol *policy
	// Stored samples: first and last time, count; maxT is the newest time
	// ever accepted (the out-of-order reference; kept after retention).
	first, last, count, maxT int64
	hasMax                   bool
	// The same over packed samples only (in chunks): persisted under
	// n ID when a window is packed or retention runs, so that Write need
	// not write them; Open adds the head samples back.
	cFirst, cLast, cCount int64
	// open lists the windows that have head samples, ascending.
	open []int64
	// retained[i] is the bucket start below which per-series archive i was deleted.
	retained   []int64
	meterScope *scope
	projScope  *scope
	// next chains the series whose keys share a hash in DB.byKey.
	next *series
	// res lists the series of the same resource (DB.byRes).
	res *resGroup
	// succ is the series whose sample followed one of this series in the
	// last write (a guess for the next write: sources tend to report their
	// series in the same order every time).
	succ *series
	// packGen marks the series once per packClosed call.
	packGen uint64
}

// scope is a roll-up scope: a whole meter (project "" and kind
// scopeMeter) or one (meter, project).
type scope struct {
	id      ID
	kind    byte
	meter   string
	project string
	pol     *policy
	// retained[i] is the bucket start below which archive i was deleted.
	retained []int64
	// rollJ[i] is the roll-up delta of archive i in the write numbered
	// rollGen (write's rollKeys index, -1 none): most samples of a write
	// fall into a bucket their scope already has a delta for.
	rollGen uint64
	rollJ   []int32
}

// resGroup is the series of one resource.
type resGroup struct {
	list []*series
}

const (
	scopeMeter   = 'm'
	scopeProject = 'p'
)

type scopeKey struct {
	kind           byte
	meter, project string
}

// DB is the time-series engine. Its methods are safe for concurrent use.
type DB struct {
	pdb      *pebble.DB
	log      hclog.Logger
	opts     Options
	policies []*policy
	window   int64 // chunk window, µs
	ooo      int64 // out-of-order window, µs
	sync     *pebble.WriteOptions

	// qmu guards the group-commit queue.
	qmu     sync.Mutex
	queue   []*writeReq
	leading bool
	// writeMu serialises writers, packing and retention.
	writeMu sync.Mutex
	// mu guards the catalog below.
	mu sync.RWMutex
	// byKey finds series by the hash of their key (keyHash), chained
	// through series.next: a map of small entries costs a write far fewer
	// cache misses than one keyed by the seven strings.
	byKey   map[uint64]*series
	keySeed maphash.Seed
	packGen uint64
	byID    map[ID]*series
	byMeter map[string][]*series
	byRes   map[string]*resGroup
	// writeGen numbers the writes (under mu), for scope.rollGen.
	writeGen uint64
	scopes   map[scopeKey]*scope
	nextID   ID
	// nextEpoch numbers the distinct record times of writes: samples store
	// the epoch (cheap to delta-code), e|epoch the time.
	nextEpoch int64
	broken    bool
	// ids filters message ids before the index Get (under mu).
	ids *idFilter
	// epochMu guards epochCache, record times by epoch.
	epochMu    sync.Mutex
	epochCache map[int64]int64
	closed     bool

	stop chan struct{}
	done chan struct{}

	// Test hooks: forceRaw makes Stats ignore roll-ups; rollupAnswers
	// counts the scopes Stats answered from roll-ups.
	forceRaw      bool
	rollupAnswers atomic.Int64
}

// Open opens (creating if needed) the engine in dir and starts the
// background retention and packing goroutine unless o.RetainEvery < 0.
func Open(dir string, o Options, log hclog.Logger) (*DB, error) {
	pols, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("open series db: %w", err)
	}
	log = log.Named("series")
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref() // Pebble holds its own reference
	popts := &pebble.Options{
		Cache:                 cache,
		Merger:                aggMerger,
		Logger:                pebbleLogger{log.Named("pebble")},
		FormatMajorVersion:    pebble.FormatNewest,
		MemTableSize:          64 << 20,
		L0CompactionThreshold: 4,
	}
	popts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionGood })
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	pdb, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("open series db %s: %w", dir, err)
	}
	db := &DB{
		pdb: pdb, log: log, opts: o, policies: pols,
		ooo:        int64(o.OutOfOrder / time.Microsecond),
		sync:       pebble.Sync,
		byKey:      map[uint64]*series{},
		keySeed:    maphash.MakeSeed(),
		byID:       map[ID]*series{},
		byMeter:    map[string][]*series{},
		byRes:      map[string]*resGroup{},
		scopes:     map[scopeKey]*scope{},
		nextID:     1,
		epochCache: map[int64]int64{},
	}
	if o.NoSync {
		db.sync = pebble.NoSync
	}
	if err := db.load(); err != nil {
		return nil, errors.Join(fmt.Errorf("open series db %s: %w", dir, err), pdb.Close())
	}
	if o.RetainEvery > 0 {
		db.stop, db.done = make(chan struct{}), make(chan struct{})
		go db.loop(o.RetainEvery)
	}
	return db, nil
}

// load reads the chunk window and the catalog into memory.
func (db *DB) load() error {
	v, closer, err := db.pdb.Get(metaWindow)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		db.window = int64(db.opts.ChunkWindow / time.Microsecond)
		if err := db.pdb.Set(metaWindow, binary.AppendVarint(nil, db.window), pebble.Sync); err != nil {
			return fmt.Errorf("store chunk window: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read chunk window: %w", err)
	default:
		w, k := binary.Varint(v)
		_ = closer.Close()
		if k <= 0 || w <= 0 {
			return fmt.Errorf("read chunk window: %w", errCorrupt)
		}
		db.window = w
	}
	it, err := db.pdb.NewIter(nil)
	if err != nil {
		return err
	}
	defer it.Close()
	// The next epoch follows the last one stored.
	if it.SeekLT([]byte{pEpoch + 1}) && it.Key()[0] == pEpoch && len(it.Key()) == 9 {
		db.nextEpoch = int64(binary.BigEndian.Uint64(it.Key()[1:])) + 1
	}
	// Series keys.
	for ok := it.SeekGE([]byte{pKey}); ok && it.Key()[0] == pKey; ok = it.Next() {
		id := ID(binary.BigEndian.Uint64(it.Key()[1:]))
		k, err := decodeKey(it.Value())
		if err != nil {
			return fmt.Errorf("load series %d: %w", id, err)
		}
		db.addSeries(id, k)
	}
	// Scopes.
	for ok := it.SeekGE([]byte{pScope}); ok && it.Key()[0] == pScope; ok = it.Next() {
		id := ID(binary.BigEndian.Uint64(it.Key()[1:]))
		v := it.Value()
		if len(v) < 1 {
			return fmt.Errorf("load scope %d: %w", id, errCorrupt)
		}
		s, err := decodeStrings(v[1:], 2)
		if err != nil {
			return fmt.Errorf("load scope %d: %w", id, err)
		}
		db.addScope(id, scopeKey{kind: v[0], meter: s[0], project: s[1]})
	}
	// Stats.
	for ok := it.SeekGE([]byte{pStats}); ok && it.Key()[0] == pStats; ok = it.Next() {
		id := ID(binary.BigEndian.Uint64(it.Key()[1:]))
		s := db.byID[id]
		if s == nil {
			return fmt.Errorf("load stats of unknown series %d: %w", id, errCorrupt)
		}
		if err := decodeStats(it.Value(), s); err != nil {
			return fmt.Errorf("load stats of series %d: %w", id, err)
		}
	}
	// Totals: packed samples plus every head sample, and the open windows.
	for _, s := range db.byID {
		s.first, s.last, s.count = s.cFirst, s.cLast, s.cCount
	}
	for ok := it.SeekGE([]byte{pHead}); ok && it.Key()[0] == pHead; ok = it.Next() {
		id, t, _, err := parseHeadKey(it.Key())
		if err != nil {
			return err
		}
		s := db.byID[id]
		if s == nil {
			return fmt.Errorf("load head of unknown series %d: %w", id, errCorrupt)
		}
		s.addStats(t)
		if w := db.windowOf(t); len(s.open) == 0 || s.open[len(s.open)-1] != w {
			s.open = append(s.open, w)
		}
	}
	for _, s := range db.byID {
		for _, k := range db.linkScopes(s) {
			sc := db.scopes[k]
			if err := db.pdb.Set(idKey(pScope, sc.id), scopeRecord(sc), pebble.Sync); err != nil {
				return fmt.Errorf("store scope: %w", err)
			}
		}
	}
	if db.ids, err = buildIDFilter(db.pdb, 0); err != nil {
		return fmt.Errorf("load message ids: %w", err)
	}
	db.log.Debug("loaded catalog", "series", len(db.byID), "scopes", len(db.scopes))
	return nil
}

// addStats counts a new sample at t in the totals.
func (s *series) addStats(t int64) {
	if s.count == 0 || t < s.first {
		s.first = t
	}
	if s.count == 0 || t > s.last {
		s.last = t
	}
	if !s.hasMax || t > s.maxT {
		s.maxT, s.hasMax = t, true
	}
	s.count++
}

// keyHash hashes the strings of k (with db's seed).
func (db *DB) keyHash(k *Key) uint64 {
	const m = 0x9e3779b97f4a7c15
	h := maphash.String(db.keySeed, k.ResourceID)
	for _, f := range [...]string{k.Meter, k.Type, k.Unit, k.ProjectID, k.UserID, k.Source} {
		h = (h^uint64(len(f)))*m ^ maphash.String(db.keySeed, f)
	}
	return h
}

// lookupNear is lookup for a write: near is the series of the previous
// sample (or nil). Its successor in the last write, or a short scan of the
// series of its resource (samples of one resource tend to come together),
// mostly spares a hash lookup. Called with mu held for writing.
func (db *DB) lookupNear(k *Key, near *series) *series {
	if near == nil {
		return db.lookup(k)
	}
	if s := near.succ; s != nil && s.key == *k {
		return s
	}
	var found *series
	if near.key.ResourceID == k.ResourceID && len(near.res.list) <= 16 {
		for _, s := range near.res.list {
			if s.key == *k {
				found = s
				break
			}
		}
	}
	if found == nil {
		found = db.lookup(k)
	}
	if found != nil {
		near.succ = found
	}
	return found
}

// lookup returns the series of k, nil when there is none. Called with mu
// held.
func (db *DB) lookup(k *Key) *series {
	for s := db.byKey[db.keyHash(k)]; s != nil; s = s.next {
		if s.key == *k {
			return s
		}
	}
	return nil
}

func (db *DB) addSeries(id ID, k Key) *series {
	s := &series{id: id, key: k, pol: db.policyFor(k.Meter)}
	h := db.keyHash(&k)
	s.next = db.byKey[h]
	db.byKey[h] = s
	db.byID[id] = s
	db.byMeter[k.Meter] = append(db.byMeter[k.Meter], s)
	g := db.byRes[k.ResourceID]
	if g == nil {
		g = &resGroup{}
		db.byRes[k.ResourceID] = g
	}
	g.list = append(g.list, s)
	s.res = g
	db.nextID = max(db.nextID, id+1)
	return s
}

func (db *DB) addScope(id ID, k scopeKey) *scope {
	sc := &scope{id: id, kind: k.kind, meter: k.meter, project: k.project, pol: db.policyFor(k.meter)}
	sc.retained = make([]int64, len(sc.pol.archives))
	for i := range sc.retained {
		sc.retained[i] = -1 << 63
	}
	db.scopes[k] = sc
	db.nextID = max(db.nextID, id+1)
	return sc
}

// linkScopes points s at its roll-up scopes, creating the missing ones in
// memory; the caller stores the records of the scopes it returns.
func (db *DB) linkScopes(s *series) []scopeKey {
	var created []scopeKey
	get := func(k scopeKey) *scope {
		sc := db.scopes[k]
		if sc == nil {
			sc = db.addScope(db.nextID, k)
			created = append(created, k)
		}
		return sc
	}
	s.meterScope = get(scopeKey{kind: scopeMeter, meter: s.key.Meter})
	s.projScope = get(scopeKey{kind: scopeProject, meter: s.key.Meter, project: s.key.ProjectID})
	return created
}

func scopeRecord(sc *scope) []byte {
	b := []byte{sc.kind}
	for _, s := range [...]string{sc.meter, sc.project} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// recorded returns the record time of epoch ep, 0 if retention removed it.
func (db *DB) recorded(r reader, ep int64) (int64, error) {
	db.epochMu.Lock()
	t, ok := db.epochCache[ep]
	db.epochMu.Unlock()
	if ok {
		return t, nil
	}
	v, closer, err := r.Get(epochKey(ep))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read epoch %d: %w", ep, err)
	}
	t, n := binary.Varint(v)
	_ = closer.Close()
	if n <= 0 {
		return 0, fmt.Errorf("read epoch %d: %w", ep, errCorrupt)
	}
	db.epochMu.Lock()
	if len(db.epochCache) >= 1<<16 {
		clear(db.epochCache)
	}
	db.epochCache[ep] = t
	db.epochMu.Unlock()
	return t, nil
}

// windowOf returns the start of t's chunk window.
func (db *DB) windowOf(t int64) int64 { return floorTo(t, db.window) }

// floorTo rounds t down to a multiple of g.
func floorTo(t, g int64) int64 {
	q := t / g
	if t%g < 0 {
		q--
	}
	return q * g
}

func (db *DB) loop(every time.Duration) {
	defer close(db.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-db.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			if err := db.packIdle(ctx); err != nil && !errors.Is(err, context.Canceled) {
				db.log.Warn("pack idle windows", "error", err)
			}
			if err := db.Retain(ctx); err != nil && !errors.Is(err, context.Canceled) {
				db.log.Warn("apply retention", "error", err)
			}
			cancel()
		}
	}
}

// Close stops the background goroutine and closes Pebble. It is safe to
// call twice.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	if db.stop != nil {
		close(db.stop)
		<-db.done
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("close series db: %w", err)
	}
	return nil
}

func (db *DB) checkOpen() error {
	if db.closed {
		return ErrClosed
	}
	if db.broken {
		return ErrBroken
	}
	return nil
}

// Info describes one series.
type Info struct {
	ID  ID
	Key Key
	// First and Last are the times of the oldest and newest stored
	// samples, Count their number (0 when retention removed them all).
	First, Last int64
	Count       int64
}

func (s *series) info() Info {
	return Info{ID: s.id, Key: s.key, First: s.first, Last: s.last, Count: s.count}
}

// SeriesList returns every series, by ID.
func (db *DB) SeriesList() []Info {
	db.mu.RLock()
	out := make([]Info, 0, len(db.byID))
	for _, s := range db.byID {
		out = append(out, s.info())
	}
	db.mu.RUnlock()
	slices.SortFunc(out, func(a, b Info) int { return cmpID(a.ID, b.ID) })
	return out
}

// Select returns the series of meter and resource (either empty means
// any) that match passes (nil passes all), in no particular order. It reads
// the catalog's per-meter and per-resource lists, so a query naming a meter
// or resource does not walk every series.
func (db *DB) Select(meter, resource string, match func(*Key) bool) []Info {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var from []*series
	switch {
	case resource != "":
		if g := db.byRes[resource]; g != nil {
			from = g.list
		}
	case meter != "":
		from = db.byMeter[meter]
	default:
		from = make([]*series, 0, len(db.byID))
		for _, s := range db.byID {
			from = append(from, s)
		}
	}
	var out []Info
	for _, s := range from {
		if (meter == "" || s.key.Meter == meter) && (match == nil || match(&s.key)) {
			out = append(out, s.info())
		}
	}
	return out
}

// Series returns one series' info.
func (db *DB) Series(id ID) (Info, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s := db.byID[id]
	if s == nil {
		return Info{}, false
	}
	return s.info(), true
}

// SeriesID returns the ID of the series with key k.
func (db *DB) SeriesID(k Key) (ID, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s := db.lookup(&k)
	if s == nil {
		return 0, false
	}
	return s.id, true
}

func cmpID(a, b ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DiskUsage returns the bytes of data Pebble keeps on disk: live tables
// and blob files. It leaves out the manifest and the write-ahead log,
// whose files Pebble preallocates and recycles (up to the memtable size),
// and obsolete files awaiting deletion.
func (db *DB) DiskUsage() (int64, error) {
	if db.closed {
		return 0, ErrClosed
	}
	m := db.pdb.Metrics()
	return int64(m.Table.Local.LiveSize + m.BlobFiles.Local.LiveSize), nil
}

// pebbleLogger routes Pebble's log lines to hclog.
type pebbleLogger struct{ log hclog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble fatal", "msg", msg)
	panic("pebble: " + msg)
}
