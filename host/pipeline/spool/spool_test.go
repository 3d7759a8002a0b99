package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func payload(i int) []byte { return []byte(fmt.Sprintf("record-%04d", i)) }

func readAll(t *testing.T, s *Spool) []Record {
	t.Helper()
	var out []Record
	for {
		rs, err := s.Read(1000, nil)
		require.NoError(t, err)
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
	}
}

func TestAppendReadAckReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 200})
	require.NoError(t, err)
	for i := range 20 {
		_, _, err := s.Append(payload(i), 2, time.Now())
		require.NoError(t, err)
	}
	st := s.Stats()
	require.Equal(t, 20, st.Records)
	require.EqualValues(t, 40, st.Items)
	rs, err := s.Read(5, nil)
	require.NoError(t, err)
	require.Len(t, rs, 2, "two records of 2 items fit 5 items")
	require.Equal(t, payload(0), rs[0].Data)
	require.NoError(t, s.Ack(rs[1].Seq))
	// Read but not acknowledged: replayed after a restart (no Close: as
	// after SIGKILL, the page cache holds what was written).
	rs, err = s.Read(6, nil)
	require.NoError(t, err)
	require.Len(t, rs, 3)

	s2, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 200})
	require.NoError(t, err)
	got := readAll(t, s2)
	require.Len(t, got, 18)
	for i, r := range got {
		require.Equal(t, payload(i+2), r.Data)
	}
	require.NoError(t, s2.Ack(got[len(got)-1].Seq))
	require.Zero(t, s2.Stats().Records)
	// Appends after a reopen continue the sequence.
	_, _, err = s2.Append(payload(99), 1, time.Now())
	require.NoError(t, err)
	rs, err = s2.Read(10, nil)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Greater(t, rs[0].Seq, got[len(got)-1].Seq)
	require.NoError(t, s2.Close())
	require.NoError(t, s2.Close(), "twice")
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1, "delivered segments are removed")
	require.NoError(t, s.Close())
}

func TestFullPolicies(t *testing.T) {
	t.Parallel()
	rec := int64(headerLen + len(payload(0)))
	t.Run("refuse", func(t *testing.T) {
		t.Parallel()
		s, err := Open(t.TempDir(), Options{MaxBytes: 3 * rec})
		require.NoError(t, err)
		defer s.Close()
		for i := range 3 {
			_, _, err := s.Append(payload(i), 1, time.Now())
			require.NoError(t, err)
		}
		_, _, err = s.Append(payload(3), 1, time.Now())
		require.ErrorIs(t, err, ErrFull)
		rs, err := s.Read(1, nil)
		require.NoError(t, err)
		require.NoError(t, s.Ack(rs[0].Seq))
		_, _, err = s.Append(payload(3), 1, time.Now())
		require.NoError(t, err, "room again once delivered")
		_, _, err = s.Append(make([]byte, 4*rec), 1, time.Now())
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("drop oldest", func(t *testing.T) {
		t.Parallel()
		s, err := Open(t.TempDir(), Options{MaxBytes: 3 * rec, DropOldest: true})
		require.NoError(t, err)
		defer s.Close()
		var dropped int64
		for i := range 5 {
			_, d, err := s.Append(payload(i), 7, time.Now())
			require.NoError(t, err)
			dropped += d
		}
		require.EqualValues(t, 14, dropped)
		got := readAll(t, s)
		require.Len(t, got, 3)
		require.Equal(t, payload(2), got[0].Data)
	})
}

func TestTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	for i := range 5 {
		_, _, err := s.Append(payload(i), 1, time.Now())
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	fi, err := os.Stat(segs[0])
	require.NoError(t, err)
	// A torn write: the last record loses its last 3 bytes.
	require.NoError(t, os.Truncate(segs[0], fi.Size()-3))

	s2, err := Open(dir, Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer s2.Close()
	got := readAll(t, s2)
	require.Len(t, got, 4, "the valid prefix is replayed")
	aside, err := filepath.Glob(segs[0] + ".torn-*")
	require.NoError(t, err)
	require.Len(t, aside, 1, "the torn tail is moved aside")
	b, err := os.ReadFile(aside[0])
	require.NoError(t, err)
	require.Len(t, b, headerLen+len(payload(4))-3)

	// A flipped byte in a payload is caught by the checksum.
	_, _, err = s2.Append(payload(5), 1, time.Now())
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	segs, err = filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	last := segs[len(segs)-1]
	b, err = os.ReadFile(last)
	require.NoError(t, err)
	b[len(b)-1] ^= 0xff
	require.NoError(t, os.WriteFile(last, b, 0o640))
	s3, err := Open(dir, Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer s3.Close()
	require.Len(t, readAll(t, s3), 4)
}

func TestSyncInterval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxBytes: 1 << 20, SyncInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	_, _, err = s.Append(payload(1), 1, time.Now())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.dirty
	}, 2*time.Second, 5*time.Millisecond)
	require.NoError(t, s.Close())
}

func TestReadSkipsCachedData(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer s.Close()
	var seqs []uint64
	for i := range 3 {
		seq, _, err := s.Append(payload(i), 1, time.Now())
		require.NoError(t, err)
		seqs = append(seqs, seq)
	}
	rs, err := s.Read(10, func(seq uint64) bool { return seq == seqs[1] })
	require.NoError(t, err)
	require.Len(t, rs, 3)
	require.Equal(t, payload(0), rs[0].Data)
	require.Nil(t, rs[1].Data, "the caller holds it")
	require.Equal(t, payload(2), rs[2].Data)
}

func TestDeliveredActiveSegmentIsRetired(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxBytes: 64 << 20, SegmentBytes: 32 << 20})
	require.NoError(t, err)
	defer s.Close()
	big := make([]byte, 1<<20)
	for range 5 {
		_, _, err := s.Append(big, 1, time.Now())
		require.NoError(t, err)
	}
	rs := readAll(t, s)
	require.NoError(t, s.Ack(rs[len(rs)-1].Seq))
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.Empty(t, segs, "a delivered segment past 4 MiB is removed though it was open for appends")
	seq, _, err := s.Append(payload(1), 1, time.Now())
	require.NoError(t, err)
	require.Greater(t, seq, rs[len(rs)-1].Seq)
	rs, err = s.Read(10, nil)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, payload(1), rs[0].Data)
}

// TestWriteThenSync: Write does not fsync but the record is readable at
// once; Sync makes it durable (a reopened spool has it) and is a no-op
// when nothing was written, or after the segment it wrote to was closed
// (full, fsynced on the way).
func TestWriteThenSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 200})
	require.NoError(t, err)
	require.NoError(t, s.Sync(), "nothing written")
	now := time.Now()
	for i := range 10 {
		_, _, err := s.Write([]byte(fmt.Sprintf("record-%02d-%040d", i, i)), 1, now)
		require.NoError(t, err)
		if i%3 == 0 {
			require.NoError(t, s.Sync())
		}
	}
	require.NoError(t, s.Sync())
	require.NoError(t, s.Sync(), "twice")
	require.Equal(t, int64(10), s.Stats().Items)
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 200})
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, int64(10), s2.Stats().Items)
}
