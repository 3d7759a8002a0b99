package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

var (
	// ErrFull means Append was refused: the spool holds MaxBytes of
	// undelivered records and its policy is to refuse, not to drop.
	ErrFull = errors.New("queue is full")
	// ErrTooLarge means one record is larger than the whole spool may be.
	ErrTooLarge = errors.New("record is larger than the queue's max_bytes")
	// ErrClosed means the spool was closed.
	ErrClosed = errors.New("queue is closed")
)

const (
	headerLen = 4 + 4 + 8 + 8 + 4
	segSuffix = ".seg"
	// maxRecord bounds one record's payload whatever MaxBytes says, so a
	// corrupt length field cannot make Open allocate gigabytes.
	maxRecord = 256 << 20
	// retireBytes is the size past which a fully delivered segment open
	// for appends is closed and removed.
	retireBytes = 4 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options bound a spool and set its durability.
type Options struct {
	// MaxBytes bounds the bytes (headers included) of undelivered records.
	MaxBytes int64
	// DropOldest makes a full spool drop its oldest records to make room;
	// otherwise Append answers ErrFull.
	DropOldest bool
	// SyncInterval is 0 to fsync on every Append; otherwise appends are
	// written at once and fsynced at most this long afterwards.
	SyncInterval time.Duration
	// SegmentBytes is the size at which a new segment file is started
	// (default MaxBytes/8, between 1 MiB and 64 MiB).
	SegmentBytes int64
	Logger       hclog.Logger
}

// Record is one appended payload.
type Record struct {
	Seq      uint64
	Enqueued time.Time
	Items    int
	Data     []byte
}

// Stats describe what a spool holds that was not delivered.
type Stats struct {
	Records int
	Items   int64
	Bytes   int64
	// Oldest is when the oldest undelivered record was appended (zero if none).
	Oldest time.Time
}

type meta struct {
	seq   uint64
	seg   uint64 // first seq of its segment
	off   int64
	size  int64 // header + payload
	items int
	enq   int64
}

type segment struct {
	first, last uint64 // last is 0 while empty
	path        string
	size        int64
	f           *os.File // read handle, opened lazily
}

// Spool is one durable queue. Its methods are safe for concurrent use.
type Spool struct {
	dir  string
	opts Options
	log  hclog.Logger

	mu      sync.Mutex
	segs    []*segment
	active  *os.File // append handle of segs[len-1], nil before the first Append since Open
	metas   []meta   // undelivered records, in seq order
	next    uint64   // seq of the next Append
	read    uint64   // next seq Read returns
	cursor  uint64   // last delivered seq
	curFile *os.File
	bytes   int64
	items   int64
	dirty   bool
	closed  bool

	stop chan struct{}
	done chan struct{}
}

// Open opens (creating it if needed) the spool in dir, checking every
// record; a torn or corrupt tail is moved aside.
func Open(dir string, o Options) (*Spool, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("spool %s: max bytes must be positive", dir)
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(max(o.MaxBytes/8, 1<<20), 64<<20)
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create queue dir: %w", err)
	}
	s := &Spool{dir: dir, opts: o, log: o.Logger.With("queue_dir", dir), stop: make(chan struct{}), done: make(chan struct{})}
	cf, err := os.OpenFile(filepath.Join(dir, "cursor"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open queue cursor: %w", err)
	}
	s.curFile = cf
	s.cursor = s.readCursor()
	if err := s.recover(); err != nil {
		_ = cf.Close()
		return nil, err
	}
	s.read = s.cursor + 1
	if o.SyncInterval > 0 {
		go s.syncLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

func (s *Spool) readCursor() uint64 {
	var b [12]byte
	n, err := s.curFile.ReadAt(b[:], 0)
	if n == 0 && (err == nil || errors.Is(err, io.EOF)) {
		return 0
	}
	if n < len(b) || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		s.log.Warn("queue cursor is unreadable; replaying every record kept", "file", s.curFile.Name())
		return 0
	}
	return binary.LittleEndian.Uint64(b[:8])
}

func (s *Spool) writeCursor() error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], s.cursor)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if _, err := s.curFile.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("write queue cursor: %w", err)
	}
	return nil
}

// recover loads the segments, checking each record.
func (s *Spool) recover() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read queue dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), segSuffix) && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	last := s.cursor
	for _, name := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			s.log.Warn("ignoring a file that is not a queue segment", "file", name)
			continue
		}
		seg := &segment{first: first, path: filepath.Join(s.dir, name)}
		if err := s.scan(seg, &last); err != nil {
			return err
		}
		if seg.last == 0 || seg.last <= s.cursor {
			if err := os.Remove(seg.path); err != nil {
				return fmt.Errorf("remove delivered segment: %w", err)
			}
			continue
		}
		s.segs = append(s.segs, seg)
	}
	s.next = last + 1
	return nil
}

// scan reads seg's records, keeping the undelivered ones; at the first bad
// record the rest of the file is moved aside.
func (s *Spool) scan(seg *segment, last *uint64) error {
	f, err := os.Open(seg.path)
	if err != nil {
		return fmt.Errorf("open queue segment: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [headerLen]byte
	var bad string
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) {
				bad = "truncated record header"
			}
			break
		}
		n := binary.LittleEndian.Uint32(hdr[0:])
		if n > maxRecord {
			bad = "record length out of bounds"
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			bad = "truncated record"
			break
		}
		c := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, payload)
		if c != binary.LittleEndian.Uint32(hdr[4:]) {
			bad = "checksum mismatch"
			break
		}
		seq := binary.LittleEndian.Uint64(hdr[8:])
		if seq <= *last && seq > s.cursor {
			bad = "sequence out of order"
			break
		}
		size := int64(headerLen) + int64(n)
		if seq > s.cursor {
			s.metas = append(s.metas, meta{seq: seq, seg: seg.first, off: off, size: size,
				items: int(binary.LittleEndian.Uint32(hdr[24:])), enq: int64(binary.LittleEndian.Uint64(hdr[16:]))}) //nolint:gosec // written by us
			s.bytes += size
			s.items += int64(binary.LittleEndian.Uint32(hdr[24:]))
		}
		*last = max(*last, seq)
		seg.last = seq
		off += size
	}
	seg.size = off
	if bad != "" {
		return s.moveAside(seg.path, off, bad)
	}
	return nil
}

// moveAside copies path's bytes from off on to a .torn file and truncates
// path to off.
func (s *Spool) moveAside(path string, off int64, why string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open torn segment: %w", err)
	}
	defer func() { _ = src.Close() }()
	aside := fmt.Sprintf("%s.torn-%d", path, time.Now().Unix())
	dst, err := os.OpenFile(aside, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", aside, err)
	}
	n, err := io.Copy(dst, io.NewSectionReader(src, off, 1<<62))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("move torn tail of %s aside: %w", path, err)
	}
	if err := os.Truncate(path, off); err != nil {
		return fmt.Errorf("truncate torn segment: %w", err)
	}
	s.log.Warn("queue segment has a torn or corrupt tail; kept its valid prefix and moved the rest aside",
		"file", path, "reason", why, "valid_bytes", off, "moved_bytes", n, "moved_to", aside)
	return nil
}

// Append adds one record of items items and returns its sequence number
// and how many items were dropped to make room for it (drop-oldest
// policy). With the default sync policy the record is on stable storage
// when Append returns nil.
func (s *Spool) Append(data []byte, items int, now time.Time) (seq uint64, dropped int64, err error) {
	return s.appendRecord(data, items, now, s.opts.SyncInterval <= 0)
}

// Write is Append without the fsync, whatever SyncInterval says: the
// record is written (it survives the agent being killed) and readable at
// once, and durable once a later Sync returns nil. A caller that fsyncs
// itself can so make one fsync cover the records of several Writes (group
// commit) and keep writing while it runs.
func (s *Spool) Write(data []byte, items int, now time.Time) (seq uint64, dropped int64, err error) {
	return s.appendRecord(data, items, now, false)
}

// Sync makes every record written before it was called durable. It does
// not hold the spool's lock while the disk works, so Writes go on
// meanwhile (and are covered by the next Sync).
func (s *Spool) Sync() error {
	s.mu.Lock()
	f, dirty := s.active, s.dirty
	s.dirty = false
	s.mu.Unlock()
	if !dirty || f == nil {
		return nil
	}
	if err := f.Sync(); err != nil {
		if errors.Is(err, os.ErrClosed) {
			// Closed meanwhile: a full segment is fsynced before it is
			// closed, a retired one held only delivered records, and Close
			// fsyncs.
			return nil
		}
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("sync queue: %w", err)
	}
	return nil
}

func (s *Spool) appendRecord(data []byte, items int, now time.Time, sync bool) (seq uint64, dropped int64, err error) {
	size := int64(headerLen + len(data))
	if size > s.opts.MaxBytes || len(data) > maxRecord {
		return 0, 0, ErrTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, ErrClosed
	}
	if s.bytes+size > s.opts.MaxBytes {
		if !s.opts.DropOldest {
			return 0, 0, ErrFull
		}
		free, k := s.opts.MaxBytes-s.bytes, 0
		for free < size && k < len(s.metas) {
			free += s.metas[k].size
			dropped += int64(s.metas[k].items)
			k++
		}
		if k > 0 {
			s.ackLocked(s.metas[k-1].seq)
		}
		if err := s.writeCursor(); err != nil {
			return 0, dropped, err
		}
	}
	if err := s.ensureActive(); err != nil {
		return 0, dropped, err
	}
	seg := s.segs[len(s.segs)-1]
	buf := make([]byte, headerLen+len(data))
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(data))) //nolint:gosec // bounded by maxRecord
	binary.LittleEndian.PutUint64(buf[8:], s.next)
	binary.LittleEndian.PutUint64(buf[16:], uint64(now.UnixNano())) //nolint:gosec // a timestamp
	binary.LittleEndian.PutUint32(buf[24:], uint32(items))          //nolint:gosec // a batch length
	copy(buf[headerLen:], data)
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(buf[8:], castagnoli))
	if _, err := s.active.Write(buf); err != nil {
		// A short write (disk full) leaves a partial record: cut it off so
		// the next Append starts at a record boundary.
		_ = s.active.Truncate(seg.size)
		_, _ = s.active.Seek(seg.size, io.SeekStart)
		return 0, dropped, fmt.Errorf("append to queue: %w", err)
	}
	if sync {
		if err := s.active.Sync(); err != nil {
			_ = s.active.Truncate(seg.size)
			_, _ = s.active.Seek(seg.size, io.SeekStart)
			return 0, dropped, fmt.Errorf("sync queue: %w", err)
		}
	} else {
		s.dirty = true
	}
	s.metas = append(s.metas, meta{seq: s.next, seg: seg.first, off: seg.size, size: size, items: items, enq: now.UnixNano()})
	seg.last = s.next
	seg.size += size
	seq = s.next
	s.next++
	s.bytes += size
	s.items += int64(items)
	return seq, dropped, nil
}

// ensureActive opens a new segment when there is none open for appends or
// the open one is full. Caller holds mu.
func (s *Spool) ensureActive() error {
	if s.active != nil && s.segs[len(s.segs)-1].size < s.opts.SegmentBytes {
		return nil
	}
	if s.active != nil {
		if err := s.active.Sync(); err != nil {
			return fmt.Errorf("sync queue segment: %w", err)
		}
		_ = s.active.Close()
		s.active = nil
		s.dirty = false
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%020d%s", s.next, segSuffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create queue segment: %w", err)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync() // make the new file's name durable
		_ = d.Close()
	}
	s.active = f
	s.segs = append(s.segs, &segment{first: s.next, path: path})
	return nil
}

// Read returns the next undelivered records after those already read, up
// to maxItems items (at least one record if any is waiting). It does not
// remove them: Ack does, once they are delivered. A record for which
// cached (if not nil) reports true is returned without its Data, which the
// caller holds already.
func (s *Spool) Read(maxItems int, cached func(seq uint64) bool) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	i := sort.Search(len(s.metas), func(i int) bool { return s.metas[i].seq >= s.read })
	var out []Record
	total := 0
	for ; i < len(s.metas); i++ {
		m := s.metas[i]
		if len(out) > 0 && total+m.items > maxItems {
			break
		}
		var data []byte
		if cached == nil || !cached(m.seq) {
			var err error
			if data, err = s.readAt(m); err != nil {
				return out, err
			}
		}
		out = append(out, Record{Seq: m.seq, Enqueued: time.Unix(0, m.enq), Items: m.items, Data: data})
		total += m.items
		s.read = m.seq + 1
	}
	return out, nil
}

func (s *Spool) readAt(m meta) ([]byte, error) {
	j := sort.Search(len(s.segs), func(j int) bool { return s.segs[j].first >= m.seg })
	if j == len(s.segs) || s.segs[j].first != m.seg {
		return nil, fmt.Errorf("queue segment of record %d is gone", m.seq)
	}
	seg := s.segs[j]
	if seg.f == nil {
		f, err := os.Open(seg.path)
		if err != nil {
			return nil, fmt.Errorf("open queue segment: %w", err)
		}
		seg.f = f
	}
	buf := make([]byte, m.size)
	if _, err := seg.f.ReadAt(buf, m.off); err != nil {
		return nil, fmt.Errorf("read queue record %d: %w", m.seq, err)
	}
	return buf[headerLen:], nil
}

// Rewind makes Read start again from the oldest undelivered record.
func (s *Spool) Rewind() {
	s.mu.Lock()
	s.read = s.cursor + 1
	s.mu.Unlock()
}

// Ack marks every record up to seq delivered; their space is reclaimed.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq <= s.cursor {
		return nil
	}
	s.ackLocked(seq)
	return s.writeCursor()
}

// ackLocked advances the cursor to seq and removes the segments it
// delivered entirely (never the one open for appends). Caller holds mu.
func (s *Spool) ackLocked(seq uint64) {
	s.cursor = max(s.cursor, seq)
	if s.read <= s.cursor {
		s.read = s.cursor + 1
	}
	n := 0
	for n < len(s.metas) && s.metas[n].seq <= seq {
		s.bytes -= s.metas[n].size
		s.items -= int64(s.metas[n].items)
		n++
	}
	s.metas = append(s.metas[:0:0], s.metas[n:]...)
	// A segment open for appends whose records are all delivered is
	// closed once it holds retireBytes, so a publisher that keeps up does
	// not keep up to SegmentBytes of delivered records on disk; the next
	// Append starts a new one.
	if n := len(s.segs); n > 0 && s.active != nil && s.segs[n-1].last <= s.cursor && s.segs[n-1].size >= retireBytes {
		_ = s.active.Close()
		s.active, s.dirty = nil, false
	}
	for len(s.segs) > 0 {
		seg := s.segs[0]
		isActive := s.active != nil && len(s.segs) == 1
		if isActive || seg.last == 0 || seg.last > s.cursor {
			break
		}
		if seg.f != nil {
			_ = seg.f.Close()
		}
		if err := os.Remove(seg.path); err != nil {
			s.log.Warn("remove delivered queue segment", "file", seg.path, "error", err)
		}
		s.segs = s.segs[1:]
	}
}

// Stats returns what the spool holds undelivered.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Records: len(s.metas), Items: s.items, Bytes: s.bytes}
	if len(s.metas) > 0 {
		st.Oldest = time.Unix(0, s.metas[0].enq)
	}
	return st
}

func (s *Spool) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.mu.Lock()
			if s.dirty && s.active != nil {
				if err := s.active.Sync(); err != nil {
					s.log.Warn("sync queue", "error", err)
				} else {
					s.dirty = false
				}
			}
			s.mu.Unlock()
		case <-s.stop:
			return
		}
	}
}

// Close syncs and closes the spool. Safe to call twice.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Sync(), s.active.Close())
	}
	for _, seg := range s.segs {
		if seg.f != nil {
			errs = append(errs, seg.f.Close())
		}
	}
	errs = append(errs, s.curFile.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close queue %s: %w", s.dir, err)
	}
	return nil
}
