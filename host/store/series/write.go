package series

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/altimeter/altimeter/host/store/series/chunk"
	"github.com/cockroachdb/pebble/v2"
)

// Input is one sample to write.
type Input struct {
	Key Key
	// T is the sample time in unix microseconds.
	T int64
	V float64
	// MessageID may be empty: the facade then derives the canonical id
	// from the series and T, and dedup is by (series, T).
	MessageID string
	// Recorded is the batch write time, unix microseconds.
	Recorded int64
}

// WriteResult says what Write did with each input.
type WriteResult struct {
	Written    int
	Duplicates int
	TooOld     int
	// New[i] reports whether in[i] was stored (false: duplicate or too old).
	New []bool
	// Old[i] reports whether in[i] was not stored for being too old (more
	// than OutOfOrder behind its series' newest sample, and no duplicate);
	// nil when no input was.
	Old []bool
	// IDs[i] is the series of in[i].
	IDs []ID
}

// Limits on input.
const (
	// MaxMessageID is the longest message id accepted.
	MaxMessageID = 1024
	// MinTime and MaxTime bound sample times (about ±146,000 years).
	MinTime = -1 << 62
	MaxTime = 1<<62 - 1
)

func validate(i int, in *Input) error {
	k := &in.Key
	switch {
	case k.Meter == "":
		return fmt.Errorf("input %d: empty meter", i)
	case k.ResourceID == "":
		return fmt.Errorf("input %d (%s): empty resource id", i, k.Meter)
	case k.Type != "gauge" && k.Type != "delta" && k.Type != "cumulative":
		return fmt.Errorf("input %d (%s): type %q: want gauge, delta or cumulative", i, k.Meter, k.Type)
	case math.IsNaN(in.V) || math.IsInf(in.V, 0):
		return fmt.Errorf("input %d (%s): volume %v is not finite", i, k.Meter, in.V)
	case in.T < MinTime || in.T > MaxTime:
		return fmt.Errorf("input %d (%s): time %d out of range", i, k.Meter, in.T)
	case len(in.MessageID) > MaxMessageID:
		return fmt.Errorf("input %d (%s): message id of %d bytes: longer than %d", i, k.Meter, len(in.MessageID), MaxMessageID)
	}
	return nil
}

type rollKey struct {
	scope  ID
	gran   int64
	bucket int64
}

// Write stores the inputs not already stored, atomically and durably (one
// synced Pebble batch). An input is a duplicate when its MessageID is
// already stored in its project (or earlier in the batch), or, with an empty MessageID,
// when its series already has a sample at T. An input more than OutOfOrder
// older than its series' newest sample is TooOld (a duplicate when its
// non-empty MessageID is stored). Invalid input fails the whole batch.
//
// Concurrent calls are committed together (group commit): one caller
// writes the inputs of every call waiting at that moment in one batch and
// one fsync, in arrival order, so writers share the WAL sync.
func (db *DB) Write(ctx context.Context, in []Input) (WriteResult, error) {
	for i := range in {
		if err := validate(i, &in[i]); err != nil {
			return WriteResult{}, fmt.Errorf("write: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return WriteResult{}, fmt.Errorf("write: %w", err)
	}
	if err := db.stallErr(); err != nil {
		return WriteResult{}, fmt.Errorf("write: %w", err)
	}
	req := &writeReq{in: in, done: make(chan struct{})}
	db.qmu.Lock()
	db.queue = append(db.queue, req)
	if db.leading {
		db.qmu.Unlock()
		select {
		case <-req.done:
		case <-ctx.Done():
			// A write still queued may leave (a leader stalled on a
			// full disk); one taken into a group waits for its result.
			if db.dequeue(req) {
				return WriteResult{}, fmt.Errorf("write: %w", ctx.Err())
			}
			<-req.done
		}
		return req.res, req.err
	}
	db.leading = true
	db.qmu.Unlock()
	for {
		db.qmu.Lock()
		reqs := db.queue
		db.queue = nil
		if len(reqs) == 0 {
			db.leading = false
			db.qmu.Unlock()
			break
		}
		db.qmu.Unlock()
		db.writeGroup(context.WithoutCancel(ctx), reqs)
	}
	return req.res, req.err
}

// dequeue removes req from the queue; false when a leader took it.
func (db *DB) dequeue(req *writeReq) bool {
	db.qmu.Lock()
	defer db.qmu.Unlock()
	for i, r := range db.queue {
		if r == req {
			db.queue = slices.Delete(db.queue, i, i+1)
			return true
		}
	}
	return false
}

// writeReq is one Write call waiting for its group.
type writeReq struct {
	in   []Input
	res  WriteResult
	err  error
	done chan struct{}
}

// writeGroup writes the inputs of reqs in one batch and hands each request
// its part of the result.
func (db *DB) writeGroup(ctx context.Context, reqs []*writeReq) {
	in := reqs[0].in
	if len(reqs) > 1 {
		n := 0
		for _, r := range reqs {
			n += len(r.in)
		}
		in = make([]Input, 0, n)
		for _, r := range reqs {
			in = append(in, r.in...)
		}
	}
	res, err := db.write(ctx, in)
	off := 0
	for _, r := range reqs {
		n := len(r.in)
		r.res = WriteResult{New: res.New[off : off+n : off+n], IDs: res.IDs[off : off+n : off+n]}
		r.err = err
		for j := range n {
			switch {
			case res.New[off+j]:
				r.res.Written++
			case res.why[off+j] == whyDup:
				r.res.Duplicates++
			case res.why[off+j] == whyOld:
				if r.res.Old == nil {
					r.res.Old = make([]bool, n)
				}
				r.res.Old[j] = true
				r.res.TooOld++
			}
		}
		off += n
		close(r.done)
	}
}

// groupResult is what write did with each input.
type groupResult struct {
	New []bool
	IDs []ID
	why []byte // whyDup or whyOld when not New
}

const (
	whyDup = 1 + iota
	whyOld
)

// write stores valid inputs; see Write.
func (db *DB) write(ctx context.Context, in []Input) (groupResult, error) {
	res := groupResult{New: make([]bool, len(in)), IDs: make([]ID, len(in)), why: make([]byte, len(in))}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if err := db.reopenIfBroken(); err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	db.mu.Lock()
	if err := db.checkOpen(); err != nil {
		db.mu.Unlock()
		return res, fmt.Errorf("write: %w", err)
	}
	b := db.pdb.NewBatchWithSize(len(in) * 64)
	defer func() { _ = b.Close() }()
	// Roll-up deltas: rollIdx maps a key to its Agg in aggs.
	rollIdx := make(map[rollKey]int32, 64)
	aggs := make([]Agg, 0, 64)
	rollKeys := make([]rollKey, 0, 64)
	db.writeGen++
	addRoll := func(sc *scope, ai int, gran, bk, t int64, v float64) {
		if sc.rollGen != db.writeGen {
			sc.rollGen = db.writeGen
			if len(sc.rollJ) != len(sc.pol.archives) {
				sc.rollJ = make([]int32, len(sc.pol.archives))
			}
			for j := range sc.rollJ {
				sc.rollJ[j] = -1
			}
		}
		if ai < len(sc.rollJ) {
			if j := sc.rollJ[ai]; j >= 0 && rollKeys[j].bucket == bk && rollKeys[j].gran == gran {
				aggs[j].Add(t, v)
				return
			}
		}
		k := rollKey{sc.id, gran, bk}
		j, ok := rollIdx[k]
		if !ok {
			j = int32(len(aggs))
			rollIdx[k] = j
			aggs = append(aggs, Agg{})
			rollKeys = append(rollKeys, k)
		}
		aggs[j].Add(t, v)
		if ai < len(sc.rollJ) {
			sc.rollJ[ai] = j
		}
	}
	var prev *series
	touched := make([]*series, 0, 64)
	var batchIDs map[string]bool
	val := make([]byte, 0, 24)
	kb := make([]byte, 0, 64) // head key buffer: Set copies it
	var epochs map[int64]int64
	lastRec, lastEp, haveEp := int64(0), int64(0), false
	err := func() error {
		for i := range in {
			x := &in[i]
			s := db.lookupNear(&x.Key, prev)
			if s == nil {
				s = db.addSeries(db.nextID, x.Key)
				if prev != nil {
					prev.succ = s
				}
				if err := b.Set(idKey(pKey, s.id), encodeKey(x.Key), nil); err != nil {
					return err
				}
				for _, k := range db.linkScopes(s) {
					sc := db.scopes[k]
					if err := b.Set(idKey(pScope, sc.id), scopeRecord(sc), nil); err != nil {
						return err
					}
				}
			}
			prev = s
			res.IDs[i] = s.id
			dup, err := db.isDuplicate(s, x, &batchIDs, func() bool {
				for j := range i {
					if res.New[j] && res.IDs[j] == s.id && in[j].T == x.T {
						return true
					}
				}
				return false
			})
			if err != nil {
				return err
			}
			if dup {
				res.why[i] = whyDup
				continue
			}
			if s.hasMax && x.T < s.maxT-db.ooo {
				res.why[i] = whyOld
				continue
			}
			val = binary.BigEndian.AppendUint64(val[:0], math.Float64bits(x.V))
			ep := lastEp
			if !haveEp || x.Recorded != lastRec {
				var ok bool
				if ep, ok = epochs[x.Recorded]; !ok {
					ep = db.nextEpoch
					db.nextEpoch++
					if epochs == nil {
						epochs = make(map[int64]int64, 1)
					}
					epochs[x.Recorded] = ep
					if err := b.Set(epochKey(ep), binary.AppendVarint(nil, x.Recorded), nil); err != nil {
						return err
					}
				}
				lastRec, lastEp, haveEp = x.Recorded, ep, true
			}
			val = binary.AppendVarint(val, ep)
			kb = appendTimeKey(kb[:0], pHead, s.id, x.T)
			kb = append(kb, x.MessageID...)
			if err := b.Set(kb, val, nil); err != nil {
				return err
			}
			if x.MessageID != "" {
				mv := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(s.id))
				mv = binary.BigEndian.AppendUint64(mv, ord(x.T))
				mk := msgKey(s.key.ProjectID, x.MessageID)
				if err := b.Set(mk, mv, nil); err != nil {
					return err
				}
				db.ids.add(string(mk))
			}
			s.addStats(x.T)
			if len(touched) == 0 || touched[len(touched)-1] != s {
				touched = append(touched, s)
			}
			w := db.windowOf(x.T)
			if n := len(s.open); n == 0 || s.open[n-1] != w {
				if i, found := slices.BinarySearch(s.open, w); !found {
					s.open = slices.Insert(s.open, i, w)
				}
			}
			for ai, a := range s.pol.archives {
				bk := floorTo(x.T, a.gran)
				addRoll(s.meterScope, ai, a.gran, bk, x.T, x.V)
				addRoll(s.projScope, ai, a.gran, bk, x.T, x.V)
			}
			res.New[i] = true
		}
		// Merge the roll-up deltas in key order: sorted inserts are cheaper
		// for the memtable's skiplist.
		order := make([]int32, len(rollKeys))
		for j := range order {
			order[j] = int32(j)
		}
		slices.SortFunc(order, func(x, y int32) int {
			a, b := &rollKeys[x], &rollKeys[y]
			return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.gran, b.gran), cmp.Compare(a.bucket, b.bucket))
		})
		buf := make([]byte, 0, aggSize)
		for _, j := range order {
			k := &rollKeys[j]
			buf = aggs[j].encode(buf[:0])
			kb = appendRollupKey(kb[:0], k.scope, k.gran, k.bucket)
			if err := b.Merge(kb, buf, nil); err != nil {
				return err
			}
		}
		return nil
	}()
	db.mu.Unlock()
	if err == nil {
		err = db.apply(func() error { return b.Commit(db.sync) })
	}
	if err != nil {
		// The catalog was updated in memory, and a failed commit leaves
		// Pebble unusable: reopen before the next write.
		db.fail(err)
		return res, fmt.Errorf("write %d samples: %w", len(in), err)
	}
	if db.ids.full() {
		// Rebuild from the committed index, twice as large; ids of this
		// batch are committed by now.
		f, err := buildIDFilter(db.pdb, 2*db.ids.cap)
		if err != nil {
			return res, fmt.Errorf("write: rebuild message id filter: %w", err)
		}
		db.mu.Lock()
		db.ids = f
		db.mu.Unlock()
	}
	if err := db.packClosed(ctx, touched); err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	return res, nil
}

// isDuplicate reports whether x is already stored (or earlier in the
// batch). Called with mu held.
func (db *DB) isDuplicate(s *series, x *Input, batchIDs *map[string]bool, inBatch func() bool) (bool, error) {
	if x.MessageID != "" {
		// The id is unique per project: another project's sample with the
		// same id is no duplicate (msgKey).
		mk := string(msgKey(s.key.ProjectID, x.MessageID))
		if *batchIDs == nil {
			*batchIDs = map[string]bool{}
		}
		if (*batchIDs)[mk] {
			return true, nil
		}
		if db.ids.mayHave(mk) {
			_, closer, err := db.pdb.Get([]byte(mk))
			if err == nil {
				_ = closer.Close()
				return true, nil
			}
			if !errors.Is(err, pebble.ErrNotFound) {
				return false, fmt.Errorf("check message id: %w", err)
			}
		}
		if s.hasMax && x.T < s.maxT-db.ooo {
			return false, nil // too old, and not a known id
		}
		(*batchIDs)[mk] = true
		return false, nil
	}
	if !s.hasMax || x.T > s.maxT {
		return false, nil // fast path: newer than anything in the series
	}
	if x.T < s.maxT-db.ooo {
		return false, nil // too old; not looked up
	}
	// Slow path: a late sample; look for (series, T) in the batch so far
	// (linear, but late samples are rare), then in head and chunk.
	if inBatch() {
		return true, nil
	}
	return db.exists(s.id, x.T)
}

// exists reports whether series id has a committed sample at t.
func (db *DB) exists(id ID, t int64) (bool, error) {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: timeKey(pHead, id, t), UpperBound: timeKey(pHead, id, t+1)})
	if err != nil {
		return false, err
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return false, err
	}
	if found {
		return true, nil
	}
	v, closer, err := db.pdb.Get(timeKey(pChunk, id, db.windowOf(t)))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read chunk: %w", err)
	}
	defer func() { _ = closer.Close() }()
	ci, err := chunk.NewIterator(v)
	if err != nil {
		return false, err
	}
	for ci.Next() {
		if s := ci.At(); s.T == t {
			return true, nil
		} else if s.T > t {
			break
		}
	}
	return false, ci.Err()
}
