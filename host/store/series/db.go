package series

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/hashicorp/go-hclog"
)

// ErrClosed is returned by calls on a closed DB.
var ErrClosed = errors.New("series db closed")

// ErrBroken means an earlier write failed after updating the in-memory
// catalog, or Pebble's commit pipeline failed (a WAL write or sync error,
// such as a full disk): writes are refused until the engine is reopened,
// which the next write or the background loop does once space allows.
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
	pdb      *pebble.DB // nil after a failed reopen (broken)
	dir      string
	popts    *pebble.Options // to reopen
	cache    *pebble.Cache
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
	// writeMu serialises writers, packing, retention and reopening.
	writeMu sync.Mutex
	// reads admits the reads of pdb that do not hold writeMu; Close and
	// reopen wait for them (gate.go). Lock order: writeMu, then mu.
	reads readGate
	// readCtx is cancelled by Close: reads in flight stop early.
	readCtx     context.Context
	cancelReads context.CancelFunc
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
	// brokenBy is the error that broke the DB; lastReopen the time of the
	// last reopen attempt (under writeMu).
	brokenBy   error
	lastReopen time.Time
	// stalled is set while Pebble stalls writes (memtables or L0 full),
	// bgNoSpace while its flushes or compactions fail for lack of space;
	// both together mean a write would wait for free space (see events).
	stalled, bgNoSpace atomic.Bool
	bgErrs             errLimiter
	// ids filters message ids before the index Get (under mu).
	ids *idFilter
	// epochMu guards epochCache, record times by epoch.
	epochMu    sync.Mutex
	epochCache map[int64]int64
	closed     bool
	// scanBufs holds the *scanBuf of scans.
	scanBufs sync.Pool

	stop chan struct{}
	done chan struct{}

	// Test hooks: forceRaw makes Stats ignore roll-ups; rollupAnswers
	// counts the scopes Stats answered from roll-ups; statsCatalog, when
	// set, runs in Stats just before it reads the catalog.
	forceRaw      bool
	rollupAnswers atomic.Int64
	statsCatalog  func()
}

// Open opens (creating if needed) the engine in dir and starts the
// background retention and packing goroutine unless o.RetainEvery < 0.
func Open(dir string, o Options, log hclog.Logger) (*DB, error) {
	pols, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("open series db: %w", err)
	}
	log = log.Named("series")
	// The DB keeps its own reference on the cache, so that a reopen can
	// share it; Close drops it. Pebble counts its memtables against the
	// block cache (a full one, and the flushed one it keeps to recycle):
	// a cache of CacheSize alone holds no block at all once the memtables
	// have grown to a MemTableSize as large, and every read decompresses.
	cache := pebble.NewCache(o.CacheSize + 2*o.MemTableSize)
	popts := &pebble.Options{
		Cache:                 cache,
		Merger:                aggMerger,
		Logger:                pebbleLogger{log.Named("pebble")},
		FormatMajorVersion:    pebble.FormatNewest,
		MemTableSize:          uint64(o.MemTableSize), //nolint:gosec // positive (resolve)
		L0CompactionThreshold: 4,
		FS:                    o.FS,
	}
	popts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionGood })
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db := &DB{
		dir: dir, popts: popts, cache: cache, log: log, opts: o, policies: pols,
		ooo:  int64(o.OutOfOrder / time.Microsecond),
		sync: pebble.Sync,
	}
	db.scanBufs.New = func() any { return new(scanBuf) }
	popts.EventListener = db.events()
	db.readCtx, db.cancelReads = context.WithCancel(context.Background())
	db.resetCatalog()
	if o.NoSync {
		db.sync = pebble.NoSync
	}
	pdb, err := openPebble(dir, popts)
	if err != nil {
		db.cancelReads()
		cache.Unref()
		return nil, fmt.Errorf("open series db %s: %w", dir, err)
	}
	db.pdb = pdb
	if err := db.load(); err != nil {
		db.cancelReads()
		err = errors.Join(fmt.Errorf("open series db %s: %w", dir, err), closePebble(pdb))
		cache.Unref()
		return nil, err
	}
	if o.RetainEvery > 0 {
		db.stop, db.done = make(chan struct{}), make(chan struct{})
		go db.loop(o.RetainEvery)
	}
	return db, nil
}

// resetCatalog empties the in-memory catalog (before load).
func (db *DB) resetCatalog() {
	db.byKey = map[uint64]*series{}
	db.keySeed = maphash.MakeSeed()
	db.byID = map[ID]*series{}
	db.byMeter = map[string][]*series{}
	db.byRes = map[string]*resGroup{}
	db.scopes = map[scopeKey]*scope{}
	db.nextID = 1
	db.nextEpoch = 0
	db.epochMu.Lock()
	db.epochCache = map[int64]int64{}
	db.epochMu.Unlock()
}

// load reads the chunk window and the catalog into memory.
func (db *DB) load() error {
	v, closer, err := db.pdb.Get(metaWindow)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		db.window = int64(db.opts.ChunkWindow / time.Microsecond)
		if err := db.apply(func() error {
			return db.pdb.Set(metaWindow, binary.AppendVarint(nil, db.window), pebble.Sync)
		}); err != nil {
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
	defer func() { _ = it.Close() }()
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
			if err := db.apply(func() error { return db.pdb.Set(idKey(pScope, sc.id), scopeRecord(sc), pebble.Sync) }); err != nil {
				return fmt.Errorf("store scope: %w", err)
			}
		}
	}
	if err := db.migrateMsgKeys(); err != nil {
		return fmt.Errorf("migrate message ids: %w", err)
	}
	if db.ids, err = buildIDFilter(db.pdb, 0); err != nil {
		return fmt.Errorf("load message ids: %w", err)
	}
	db.log.Debug("loaded catalog", "series", len(db.byID), "scopes", len(db.scopes))
	return nil
}

// migrateMsgKeys rewrites the message-id index of a store written before
// ids were unique per project (i|0 and i|1 keys, one per id) into msgKey
// form, with the project of each entry's series; entries of unknown series
// are dropped. It runs at open, once: a store without legacy keys costs
// one seek.
func (db *DB) migrateMsgKeys() error {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{pMsgID, msgLegacyUUID}, UpperBound: []byte{pMsgID, msgUUID}})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	b := db.pdb.NewBatch()
	defer func() { _ = b.Close() }()
	moved, dropped := 0, 0
	commit := func() error {
		if b.Empty() {
			return nil
		}
		if err := db.apply(func() error { return b.Commit(pebble.Sync) }); err != nil {
			return err
		}
		_ = b.Close()
		b = db.pdb.NewBatch()
		return nil
	}
	for ok := it.First(); ok; ok = it.Next() {
		id, err := parseLegacyMsgKey(it.Key())
		if err != nil {
			return err
		}
		v := it.Value()
		if len(v) != 16 {
			return fmt.Errorf("message id %q: %w", id, errCorrupt)
		}
		if s := db.byID[ID(binary.BigEndian.Uint64(v))]; s != nil {
			if err := b.Set(msgKey(s.key.ProjectID, id), v, nil); err != nil {
				return err
			}
			moved++
		} else {
			dropped++
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
		if b.Len() > 4<<20 {
			if err := commit(); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	if moved+dropped > 0 {
		db.log.Info("message id index now per project", "ids", moved, "dropped", dropped)
	}
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
	db.cacheEpoch(ep, t)
	return t, nil
}

// cacheEpoch remembers the record time t of epoch ep.
func (db *DB) cacheEpoch(ep, t int64) {
	db.epochMu.Lock()
	if len(db.epochCache) >= 1<<16 {
		clear(db.epochCache)
	}
	db.epochCache[ep] = t
	db.epochMu.Unlock()
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

// loop packs idle windows and applies retention every tick, and reopens
// the engine after a failed write. It survives every error: a full disk
// skips packing (and, below half the minimum free space, retention) until
// space is back, so that the room left goes to the WAL and to Pebble's
// flushes and compactions.
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
			db.background(ctx)
			cancel()
		}
	}
}

// background is one tick of loop.
func (db *DB) background(ctx context.Context) {
	db.writeMu.Lock()
	err := db.reopenIfBroken()
	db.writeMu.Unlock()
	if err != nil {
		db.log.Debug("reopen after write failure", "error", err)
		return
	}
	if db.stalled.Load() {
		db.log.Debug("writes stalled: packing and retention wait")
		return
	}
	if db.spaceBelow(db.minFree()) {
		db.log.Debug("disk space below the minimum: idle windows not packed")
	} else if err := db.packIdle(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
		db.log.Warn("pack idle windows", "error", err)
	}
	// Retention frees space (once Pebble compacts), so it runs down to
	// half the minimum.
	if db.spaceBelow(db.minFree() / 2) {
		db.log.Debug("disk space below half the minimum: retention postponed")
	} else if err := db.Retain(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
		db.log.Warn("apply retention", "error", err)
	}
}

// minFree is the guard's minimum, 0 without a guard.
func (db *DB) minFree() uint64 {
	if db.opts.Guard == nil {
		return 0
	}
	return db.opts.Guard.Min()
}

// spaceBelow reports whether the guard measures less than n bytes free.
func (db *DB) spaceBelow(n uint64) bool {
	if db.opts.Guard == nil || n == 0 {
		return false
	}
	u, err := db.opts.Guard.Usage()
	return err == nil && u.Avail < n
}

// closeWait bounds how long Close waits for the write or read in progress
// (a write Pebble stalls on a full disk, a read view its owner has not
// closed): past it, Close returns an error and leaves Pebble to close when
// they end. Every acknowledged write is in the WAL.
const closeWait = 5 * time.Second

// Close stops the background goroutine, cancels the reads in flight and
// waits for them and for the write in progress, then closes Pebble. It is
// safe to call twice.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	db.cancelReads()
	idle := db.reads.close()
	done := make(chan error, 1)
	go func() {
		if db.stop != nil {
			close(db.stop)
			<-db.done
		}
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
		<-idle // the reads in flight, cancelled above, have ended
		defer db.cache.Unref()
		if db.pdb == nil {
			done <- nil
			return
		}
		if err := closePebble(db.pdb); err != nil {
			done <- fmt.Errorf("close series db: %w", err)
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWait):
		db.log.Warn("a write or read still runs: pebble left open; acknowledged writes are in the WAL", "waited", closeWait)
		return fmt.Errorf("close series db: a write or read still runs after %s (a write stalled on a full disk?)", closeWait)
	}
}

// checkOpen is for writers (under mu): a closed or broken DB takes no
// write.
func (db *DB) checkOpen() error {
	if db.closed {
		return ErrClosed
	}
	if db.broken {
		return fmt.Errorf("%w: %w", ErrBroken, db.brokenBy)
	}
	return nil
}

// beginRead admits a read of pdb until end is called, and returns a
// context that Close cancels. Reads go on while the DB is broken (the
// failed write is not visible once reopened); they fail with ErrClosed
// after Close, ErrBroken when a reopen failed.
func (db *DB) beginRead(ctx context.Context) (context.Context, func(), error) {
	if !db.reads.enter() {
		return nil, nil, ErrClosed
	}
	db.mu.RLock()
	pdb, cause := db.pdb, db.brokenBy
	db.mu.RUnlock()
	if pdb == nil {
		db.reads.exit()
		return nil, nil, fmt.Errorf("%w: %w", ErrBroken, cause)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(db.readCtx, cancel)
	return ctx, func() {
		stop()
		cancel()
		db.reads.exit()
	}, nil
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

// Extent returns the times of the oldest and newest raw samples of meter
// (of project's series when project is set) and their number; count is 0
// when no raw sample is left. It walks the catalog and allocates nothing.
func (db *DB) Extent(meter, project string) (first, last, count int64) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	for _, s := range db.byMeter[meter] {
		if s.count == 0 || (project != "" && s.key.ProjectID != project) {
			continue
		}
		if count == 0 {
			first, last = s.first, s.last
		}
		first, last, count = min(first, s.first), max(last, s.last), count+s.count
	}
	return first, last, count
}

// SeriesList returns every series, by ID.
func (db *DB) SeriesList() []Info {
	db.mu.RLock()
	out := make([]Info, 0, len(db.byID))
	for _, s := range db.byID {
		out = append(out, s.info())
	}
	db.mu.RUnlock()
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
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

// DiskUsage returns the bytes of data Pebble keeps on disk: live tables
// and blob files. It leaves out the manifest and the write-ahead log,
// whose files Pebble preallocates and recycles (up to the memtable size),
// and obsolete files awaiting deletion.
func (db *DB) DiskUsage() (int64, error) {
	_, end, err := db.beginRead(context.Background())
	if err != nil {
		return 0, err
	}
	defer end()
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

// Fatalf panics with a pebbleFatal. Pebble calls it when it cannot go on:
// a failed commit (WAL write or sync) on the committing goroutine, which
// apply recovers into an error, or a failed MANIFEST update in a
// background flush or compaction, which ends the process.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	f := pebbleFatal{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.err = err
		}
	}
	if strings.HasPrefix(f.msg, "pebble: fatal commit error") {
		l.log.Debug("pebble fatal", "msg", f.msg) // recovered by apply, reported by fail
	} else {
		l.log.Error("pebble fatal", "msg", f.msg)
	}
	panic(f)
}

// pebbleFatal is what pebbleLogger.Fatalf panics with: Pebble's message and
// the error among its arguments, so that a full disk is still recognised.
type pebbleFatal struct {
	msg string
	err error
}

func (f pebbleFatal) Error() string { return f.msg }
func (f pebbleFatal) Unwrap() error { return f.err }

// apply runs fn, a Pebble commit on this goroutine, turning Pebble's fatal
// commit error (Fatalf panics) into an error. The caller must treat any
// error as breaking the DB (fail): Pebble's commit pipeline does not take
// another write after such a failure.
func (db *DB) apply(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			err = f
		}
	}()
	return fn()
}

// openPebble opens Pebble, turning a Fatalf during Open (a MANIFEST that
// cannot be written on a full disk) into an error.
func openPebble(dir string, o *pebble.Options) (pdb *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			// A pebbleFatal, or the panic of Open's own cleanup while
			// unwinding one ("element has outstanding references"): the
			// open failed either way.
			if f, ok := r.(pebbleFatal); ok {
				pdb, err = nil, f
				return
			}
			pdb, err = nil, fmt.Errorf("open pebble: %v", r)
		}
	}()
	return pebble.Open(dir, o)
}

// closePebble closes pdb; a Pebble whose commit pipeline failed reports
// that failure again, or may panic, which becomes an error.
func closePebble(pdb *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("close pebble: %v", r)
		}
	}()
	return pdb.Close()
}
