package fsm

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
)

var update = flag.Bool("update", false, "rewrite testdata/snapshot-v1.golden from the fixture commands")

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// harness applies commands to a fresh FSM at increasing indexes, one
// second apart on the leader's clock.
type harness struct {
	t     *testing.T
	f     *FSM
	index uint64
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, f: New(hclog.NewNullLogger())}
}

func (h *harness) apply(c Command) error {
	h.t.Helper()
	h.index++
	b, err := Encode(c, t0.Add(time.Duration(h.index)*time.Second))
	require.NoError(h.t, err)
	res := h.f.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: b})
	if res == nil {
		return nil
	}
	return res.(error)
}

func (h *harness) must(cs ...Command) {
	h.t.Helper()
	for _, c := range cs {
		require.NoError(h.t, h.apply(c))
	}
}

func member(id string, pollsters ...string) Member {
	if pollsters == nil {
		pollsters = []string{}
	}
	return Member{ID: id, RaftAddress: "127.0.0.1:830" + id[len(id)-1:], APIAddress: "127.0.0.1:877" + id[len(id)-1:], Pollsters: pollsters, Discovery: []string{}}
}

func token(id, project string, role auth.Role) auth.Record {
	return auth.Record{Token: auth.Token{ID: id, Project: project, Role: role}, Hash: auth.HashToken("secret-" + id)}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxIDLen+1)
	cases := []struct {
		name    string
		setup   []Command
		cmd     Command
		wantErr error
		check   func(t *testing.T, st *State)
	}{
		{name: "member upsert", cmd: MemberUpsert{member("n1", "pollster.snmp")}, check: func(t *testing.T, st *State) {
			m, ok := MembersOf(st).Get("n1")
			require.True(t, ok)
			require.True(t, m.Serves("pollster.snmp"))
			require.False(t, m.Serves("pollster.ipmi"))
			require.Equal(t, t0.Add(time.Second), m.Joined)
		}},
		{name: "member upsert keeps joined", setup: []Command{MemberUpsert{member("n1")}}, cmd: MemberUpsert{member("n1", "pollster.ipmi")}, check: func(t *testing.T, st *State) {
			m, _ := MembersOf(st).Get("n1")
			require.Equal(t, t0.Add(time.Second), m.Joined)
			require.Equal(t, t0.Add(2*time.Second), m.Updated)
			require.Equal(t, []string{"pollster.ipmi"}, m.Pollsters)
		}},
		{name: "member upsert bad id", cmd: MemberUpsert{Member{ID: "a b", RaftAddress: "127.0.0.1:1"}}, wantErr: ErrInvalid},
		{name: "member upsert long id", cmd: MemberUpsert{Member{ID: long, RaftAddress: "127.0.0.1:1"}}, wantErr: ErrInvalid},
		{name: "member upsert bad address", cmd: MemberUpsert{Member{ID: "n1", RaftAddress: "nowhere"}}, wantErr: ErrInvalid},
		{name: "member upsert bad port", cmd: MemberUpsert{Member{ID: "n1", RaftAddress: "127.0.0.1:70000"}}, wantErr: ErrInvalid},
		{name: "member upsert unsorted", cmd: MemberUpsert{Member{ID: "n1", RaftAddress: "127.0.0.1:1", Pollsters: []string{"b", "a"}}}, wantErr: ErrInvalid},
		{name: "member remove", setup: []Command{MemberUpsert{member("n1")}}, cmd: MemberRemove{"n1"}, check: func(t *testing.T, st *State) {
			_, ok := MembersOf(st).Get("n1")
			require.False(t, ok)
		}},
		{name: "member remove unknown", cmd: MemberRemove{"n9"}, wantErr: ErrNotFound},
		{name: "partition set", setup: []Command{MemberUpsert{member("n1")}, MemberUpsert{member("n2")}}, cmd: PartitionSet{Epoch: 1, Live: []string{"n1", "n2"}}, check: func(t *testing.T, st *State) {
			p := PartitionOf(st)
			require.Equal(t, uint64(1), p.Epoch)
			require.True(t, p.IsLive("n2"))
			require.Equal(t, t0.Add(3*time.Second), p.Changed)
		}},
		{name: "partition stale epoch", setup: []Command{MemberUpsert{member("n1")}, PartitionSet{Epoch: 1, Live: []string{"n1"}}}, cmd: PartitionSet{Epoch: 1, Live: []string{}}, wantErr: ErrConflict},
		{name: "partition skipped epoch", setup: []Command{MemberUpsert{member("n1")}}, cmd: PartitionSet{Epoch: 2, Live: []string{"n1"}}, wantErr: ErrConflict},
		{name: "partition unknown member", cmd: PartitionSet{Epoch: 1, Live: []string{"n1"}}, wantErr: ErrNotFound},
		{name: "partition unsorted", setup: []Command{MemberUpsert{member("n1")}, MemberUpsert{member("n2")}}, cmd: PartitionSet{Epoch: 1, Live: []string{"n2", "n1"}}, wantErr: ErrInvalid},
		{name: "partition duplicate", setup: []Command{MemberUpsert{member("n1")}}, cmd: PartitionSet{Epoch: 1, Live: []string{"n1", "n1"}}, wantErr: ErrInvalid},
		{name: "token create", cmd: TokenCreate{token("t1", "p1", auth.RoleMember)}, check: func(t *testing.T, st *State) {
			r, ok := TokensOf(st).Lookup(auth.HashToken("secret-t1"))
			require.True(t, ok)
			require.Equal(t, "p1", r.Project)
			require.Equal(t, t0.Add(time.Second), r.Created, "the leader's clock, not the proposer's")
			_, ok = TokensOf(st).Lookup(auth.HashToken("secret-t2"))
			require.False(t, ok)
		}},
		{name: "token create duplicate id", setup: []Command{TokenCreate{token("t1", "p1", auth.RoleMember)}}, cmd: TokenCreate{token("t1", "p2", auth.RoleMember)}, wantErr: ErrConflict},
		{name: "token create member without project", cmd: TokenCreate{token("t1", "", auth.RoleMember)}, wantErr: ErrInvalid},
		{name: "token create bad role", cmd: TokenCreate{token("t1", "p", "root")}, wantErr: ErrInvalid},
		{name: "token create bad hash", cmd: TokenCreate{auth.Record{Token: auth.Token{ID: "t1", Role: auth.RoleAdmin}, Hash: "zz"}}, wantErr: ErrInvalid},
		{name: "token revoke", setup: []Command{TokenCreate{token("t1", "p1", auth.RoleMember)}}, cmd: TokenRevoke{"t1"}, check: func(t *testing.T, st *State) {
			_, ok := TokensOf(st).Lookup(auth.HashToken("secret-t1"))
			require.False(t, ok)
			require.Zero(t, TokensOf(st).Len())
		}},
		{name: "token revoke unknown", cmd: TokenRevoke{"t9"}, wantErr: auth.ErrUnknownToken},
		{name: "token import", setup: []Command{TokenCreate{token("t1", "p1", auth.RoleMember)}}, cmd: TokenImport{[]auth.Record{
			func() auth.Record { r := token("t1", "other", auth.RoleMember); return r }(),
			func() auth.Record { r := token("t2", "", auth.RoleAdmin); r.Created = t0.Add(-time.Hour); return r }(),
		}}, check: func(t *testing.T, st *State) {
			ts := TokensOf(st)
			require.Equal(t, 2, ts.Len())
			r1, _ := ts.Get("t1")
			require.Equal(t, "p1", r1.Project, "an id already present is skipped")
			r2, _ := ts.Get("t2")
			require.Equal(t, t0.Add(-time.Hour), r2.Created, "imported tokens keep their creation time")
		}},
		{name: "token import invalid adds nothing", cmd: TokenImport{[]auth.Record{token("t1", "p", auth.RoleMember), token("t2", "", auth.RoleMember)}}, wantErr: ErrInvalid, check: func(t *testing.T, st *State) {
			require.Zero(t, TokensOf(st).Len())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.must(tc.setup...)
			err := h.apply(tc.cmd)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			if tc.check != nil {
				h.f.Read(func(st *State) { tc.check(t, st) })
			}
		})
	}
}

func TestApplyRejectsBadEntries(t *testing.T) {
	t.Parallel()
	f := New(hclog.NewNullLogger())
	require.PanicsWithValue(t, "fsm: unknown command type 99 at index 1 (written by a newer member?)", func() {
		f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: append([]byte{99}, make([]byte, 10)...)})
	})
	require.Panics(t, func() {
		f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte{1, 2}})
	}, "a truncated entry")
	require.Panics(t, func() {
		b, _ := Stamp([]byte{byte(TypeTokenRevoke), '{', 'x'}, t0)
		f.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: b})
	}, "an undecodable payload")
	// An unknown optional command is skipped.
	require.Nil(t, f.Apply(&raft.Log{Index: 4, Type: raft.LogCommand, Data: append([]byte{99 | 0x80}, make([]byte, 10)...)}))
	idx, _ := f.Watch()
	require.Equal(t, uint64(4), idx)
	// Marshal refuses unregistered types and oversized commands.
	_, err := Marshal(unregistered{})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Marshal(MemberRemove{ID: strings.Repeat("x", MaxCommandSize)})
	require.ErrorIs(t, err, ErrInvalid)
}

type unregistered struct{}

func (unregistered) CommandType() Type { return 77 }

func TestWatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	idx, ch := h.f.Watch()
	require.Zero(t, idx)
	select {
	case <-ch:
		t.Fatal("fired before any apply")
	default:
	}
	h.must(MemberUpsert{member("n1")})
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not fire")
	}
	idx, _ = h.f.Watch()
	require.Equal(t, uint64(1), idx)
}

// fixture builds the state the committed snapshot fixture holds.
func fixture(t *testing.T) *harness {
	h := newHarness(t)
	h.must(
		MemberUpsert{member("n1", "pollster.ipmi", "pollster.snmp")},
		MemberUpsert{member("n2", "pollster.snmp")},
		MemberUpsert{member("n3")},
		PartitionSet{Epoch: 1, Live: []string{"n1", "n2", "n3"}},
		TokenCreate{token("admin1", "", auth.RoleAdmin)},
		TokenCreate{token("m1", "demo", auth.RoleMember)},
		TokenCreate{token("m2", "demo", auth.RoleMember)},
		TokenRevoke{"m2"},
		PartitionSet{Epoch: 2, Live: []string{"n1", "n3"}},
	)
	return h
}

func snapshotOf(t *testing.T, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	require.NoError(t, err)
	sink := &memSink{}
	require.NoError(t, s.Persist(sink))
	return sink.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	h := fixture(t)
	b := snapshotOf(t, h.f)
	f2 := New(hclog.NewNullLogger())
	require.NoError(t, f2.Restore(io.NopCloser(bytes.NewReader(b))))
	require.Equal(t, string(b), string(snapshotOf(t, f2)), "restore then snapshot gives the same bytes")
	idx, _ := f2.Watch()
	require.Equal(t, h.index, idx)
	var live []string
	f2.Read(func(st *State) { live = PartitionOf(st).Live })
	require.Equal(t, []string{"n1", "n3"}, live)
}

// TestSnapshotFixture restores the snapshot committed in testdata: a
// snapshot written by this version must restore in every later one. It
// only changes (with -update) when the fixture commands change, and then
// a new file is added rather than the old one replaced.
func TestSnapshotFixture(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "snapshot-v1.golden")
	h := fixture(t)
	if *update {
		require.NoError(t, os.WriteFile(path, snapshotOf(t, h.f), 0o644))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f := New(hclog.NewNullLogger())
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(b))))
	f.Read(func(st *State) {
		require.Equal(t, uint64(2), PartitionOf(st).Epoch)
		require.Len(t, MembersOf(st).List(), 3)
		r, ok := TokensOf(st).Lookup(auth.HashToken("secret-m1"))
		require.True(t, ok)
		require.Equal(t, "demo", r.Project)
		_, ok = TokensOf(st).Lookup(auth.HashToken("secret-m2"))
		require.False(t, ok, "a revoked token stays revoked")
	})
	var want, got map[string]any
	require.NoError(t, json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[1], &want))
	require.NoError(t, json.Unmarshal(bytes.SplitN(snapshotOf(t, h.f), []byte("\n"), 2)[1], &got))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Logf("today's snapshot differs from the fixture (fine when a section gained a version):\n%s", diff)
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, data, want string }{
		{"empty", "", "read header"},
		{"not ours", "hello\n{}", "not an altimeter FSM snapshot"},
		{"newer format", "altimeter-fsm-snapshot 9\n{}", "format version 9"},
		{"truncated", "altimeter-fsm-snapshot 1\n{\"index\":3,\"sections\":{", "decode snapshot"},
		{"newer section", `altimeter-fsm-snapshot 1` + "\n" + `{"index":1,"sections":{"tokens":{"version":5,"data":[]}}}`, "section tokens has version 5"},
		{"bad token", `altimeter-fsm-snapshot 1` + "\n" + `{"index":1,"sections":{"tokens":{"version":1,"data":[{"id":"x","role":"root","sha256":"00"}]}}}`, "section tokens"},
		{"trailing", "altimeter-fsm-snapshot 1\n{\"index\":1,\"sections\":{}} junk", "decode snapshot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := fixture(t)
			before := snapshotOf(t, h.f)
			err := h.f.Restore(io.NopCloser(strings.NewReader(tc.data)))
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, string(before), string(snapshotOf(t, h.f)), "a failed restore leaves the state as it was")
		})
	}
}

func TestSnapshotKeepsUnknownSections(t *testing.T) {
	t.Parallel()
	data := "altimeter-fsm-snapshot 1\n" + `{"index":7,"sections":{"alarms_from_the_future":{"version":3,"data":{"a":1}}}}`
	f := New(hclog.NewNullLogger())
	require.NoError(t, f.Restore(io.NopCloser(strings.NewReader(data))))
	require.Contains(t, string(snapshotOf(t, f)), `"alarms_from_the_future":{"version":3,"data":{"a":1}}`)
}

type memSink struct {
	bytes.Buffer
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }
