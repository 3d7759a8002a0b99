package alarm

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

var update = flag.Bool("update", false, "rewrite testdata/snapshot-v1.golden from the fixture commands")

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	f     *fsm.FSM
	index uint64
}

func newHarness(t *testing.T) *harness { return &harness{t: t, f: fsm.New(hclog.NewNullLogger())} }

func (h *harness) apply(c fsm.Command) error {
	h.t.Helper()
	h.index++
	b, err := fsm.Encode(c, t0.Add(time.Duration(h.index)*time.Second))
	require.NoError(h.t, err)
	res := h.f.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: b})
	if res == nil {
		return nil
	}
	return res.(error)
}

func (h *harness) must(cs ...fsm.Command) {
	h.t.Helper()
	for _, c := range cs {
		require.NoError(h.t, h.apply(c))
	}
}

func (h *harness) read(fn func(r *Records)) {
	h.f.Read(func(st *fsm.State) { fn(Of(st)) })
}

var lim = HistoryLimits{PerAlarm: 5, MaxAge: time.Hour}

func testAlarm(id, project, name string) Alarm {
	return Alarm{
		ID: id, Name: name, Type: "threshold", Rule: json.RawMessage(`{"meter_name":"cpu_util","threshold":80}`),
		Enabled: true, Severity: "low", ProjectID: project, UserID: "u1",
		AlarmActions: []string{"http://127.0.0.1:9/a", "log://"}, OKActions: []string{"log://"},
		TimeConstraints: []TimeConstraint{},
	}
}

func create(id, project, name string) Create {
	return Create{Alarm: testAlarm(id, project, name), EventID: "ev-" + id, Limits: lim}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		setup   []fsm.Command
		cmd     fsm.Command
		wantErr error
		check   func(t *testing.T, r *Records)
	}{
		{name: "create", cmd: create("a1", "p1", "high cpu"), check: func(t *testing.T, r *Records) {
			a, ok := r.Get("a1")
			require.True(t, ok)
			require.Equal(t, StateInsufficientData, a.State)
			require.Equal(t, t0.Add(time.Second), a.Timestamp, "the leader's clock")
			require.Equal(t, a.Timestamp, a.StateTimestamp)
			h := r.History("a1")
			require.Len(t, h, 1)
			require.Equal(t, ChangeCreation, h[0].Type)
			require.Equal(t, "ev-a1", h[0].EventID)
		}},
		{name: "create duplicate id", setup: []fsm.Command{create("a1", "p1", "x")}, cmd: create("a1", "p1", "y"), wantErr: fsm.ErrConflict},
		{name: "create duplicate name in project", setup: []fsm.Command{create("a1", "p1", "x")}, cmd: create("a2", "p1", "x"), wantErr: fsm.ErrConflict},
		{name: "same name other project", setup: []fsm.Command{create("a1", "p1", "x")}, cmd: create("a2", "p2", "x")},
		{name: "create bad id", cmd: create("a/1", "p1", "x"), wantErr: fsm.ErrInvalid},
		{name: "create bad limits", cmd: Create{Alarm: testAlarm("a1", "p", "n"), Limits: HistoryLimits{PerAlarm: -1}}, wantErr: fsm.ErrInvalid},
		{name: "update", setup: []fsm.Command{create("a1", "p1", "x")}, cmd: func() fsm.Command {
			a := testAlarm("a1", "p1", "renamed")
			a.Severity = "critical"
			return Update{Alarm: a, UserID: "u2", EventID: "ev-u", Limits: lim}
		}(), check: func(t *testing.T, r *Records) {
			a, _ := r.Get("a1")
			require.Equal(t, "renamed", a.Name)
			require.Equal(t, t0.Add(time.Second), a.StateTimestamp, "state unchanged")
			require.Equal(t, t0.Add(2*time.Second), a.Timestamp)
			h := r.History("a1")
			require.Len(t, h, 2)
			require.Equal(t, ChangeRule, h[1].Type)
			require.JSONEq(t, `{"name":"renamed","severity":"critical"}`, h[1].Detail)
			// the old name is free again
			_, taken := r.names[nameKey{"p1", "x"}]
			require.False(t, taken)
		}},
		{name: "update to a taken name", setup: []fsm.Command{create("a1", "p1", "x"), create("a2", "p1", "y")},
			cmd: Update{Alarm: testAlarm("a2", "p1", "x"), Limits: lim}, wantErr: fsm.ErrConflict},
		{name: "update unknown", cmd: Update{Alarm: testAlarm("a9", "p1", "x"), Limits: lim}, wantErr: fsm.ErrNotFound},
		{name: "delete keeps history", setup: []fsm.Command{create("a1", "p1", "x")}, cmd: Delete{ID: "a1", EventID: "ev-d", Limits: lim}, check: func(t *testing.T, r *Records) {
			_, ok := r.Get("a1")
			require.False(t, ok)
			h := r.History("a1")
			require.Len(t, h, 2)
			require.Equal(t, ChangeDeletion, h[1].Type)
		}},
		{name: "delete unknown", cmd: Delete{ID: "zz", Limits: lim}, wantErr: fsm.ErrNotFound},
		{name: "transition with actions", setup: []fsm.Command{create("a1", "p1", "x")},
			cmd: Transition{TransitionID: "t1", AlarmID: "a1", From: StateInsufficientData, To: StateAlarm, Reason: "cpu high", Notify: true, Limits: lim},
			check: func(t *testing.T, r *Records) {
				a, _ := r.Get("a1")
				require.Equal(t, StateAlarm, a.State)
				require.Equal(t, "cpu high", a.StateReason)
				require.Equal(t, t0.Add(2*time.Second), a.StateTimestamp)
				p := r.Pending()
				require.Len(t, p, 1)
				require.Equal(t, []string{"http://127.0.0.1:9/a", "log://"}, p[0].Actions)
				require.Equal(t, StateInsufficientData, p[0].Notification.Previous)
				require.Equal(t, StateAlarm, p[0].Notification.Current)
				require.Equal(t, ChangeStateTransition, r.History("a1")[1].Type)
			}},
		{name: "stale transition refused", setup: []fsm.Command{create("a1", "p1", "x"), Transition{TransitionID: "t1", AlarmID: "a1", To: StateOK, Limits: lim}},
			cmd: Transition{TransitionID: "t2", AlarmID: "a1", From: StateInsufficientData, To: StateAlarm, Notify: true, Limits: lim}, wantErr: fsm.ErrConflict},
		{name: "transition bad state", setup: []fsm.Command{create("a1", "p1", "x")},
			cmd: Transition{TransitionID: "t1", AlarmID: "a1", To: "on fire", Limits: lim}, wantErr: fsm.ErrInvalid},
		{name: "transition unknown alarm", cmd: Transition{TransitionID: "t1", AlarmID: "zz", To: StateOK, Limits: lim}, wantErr: fsm.ErrNotFound},
		{name: "api state set runs no actions", setup: []fsm.Command{create("a1", "p1", "x")},
			cmd: Transition{TransitionID: "t1", AlarmID: "a1", To: StateAlarm, Limits: lim}, check: func(t *testing.T, r *Records) {
				require.Empty(t, r.Pending())
			}},
		{name: "repeat without change records only the delivery", setup: []fsm.Command{create("a1", "p1", "x"), Transition{TransitionID: "t1", AlarmID: "a1", To: StateOK, Limits: lim}},
			cmd: Transition{TransitionID: "t2", AlarmID: "a1", From: StateOK, To: StateOK, Notify: true, Limits: lim}, check: func(t *testing.T, r *Records) {
				require.Len(t, r.Pending(), 1)
				require.Len(t, r.History("a1"), 2)
			}},
		{name: "delivery done per action", setup: []fsm.Command{create("a1", "p1", "x"),
			Transition{TransitionID: "t1", AlarmID: "a1", To: StateAlarm, Notify: true, Limits: lim}},
			cmd: DeliveryDone{TransitionID: "t1", Action: "log://", Outcome: OutcomeDelivered, Limits: lim}, check: func(t *testing.T, r *Records) {
				p := r.Pending()
				require.Len(t, p, 1)
				require.Equal(t, []string{"http://127.0.0.1:9/a"}, p[0].Actions)
			}},
		{name: "delivery done last action", setup: []fsm.Command{create("a1", "p1", "x"),
			Transition{TransitionID: "t1", AlarmID: "a1", To: StateAlarm, Notify: true, Limits: lim},
			DeliveryDone{TransitionID: "t1", Action: "log://", Outcome: OutcomeDelivered, Limits: lim}},
			cmd: DeliveryDone{TransitionID: "t1", Action: "http://127.0.0.1:9/a", Outcome: OutcomeFailed, Detail: "500", Limits: lim}, check: func(t *testing.T, r *Records) {
				require.Empty(t, r.Pending())
				require.Empty(t, r.byAlarm)
				h := r.History("a1")
				require.Equal(t, ChangeAction, h[len(h)-1].Type)
				require.Contains(t, h[len(h)-1].Detail, `"outcome":"failed"`)
			}},
		{name: "delivery done twice", setup: []fsm.Command{create("a1", "p1", "x"),
			Transition{TransitionID: "t1", AlarmID: "a1", To: StateAlarm, Notify: true, Limits: lim},
			DeliveryDone{TransitionID: "t1", Action: "log://", Outcome: OutcomeDelivered, Limits: lim}},
			cmd: DeliveryDone{TransitionID: "t1", Action: "log://", Outcome: OutcomeDelivered, Limits: lim}, wantErr: fsm.ErrNotFound},
		{name: "delivery bad outcome", cmd: DeliveryDone{TransitionID: "t1", Action: "log://", Outcome: "meh", Limits: lim}, wantErr: fsm.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.must(tc.setup...)
			err := h.apply(tc.cmd)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.check != nil {
				h.read(func(r *Records) { tc.check(t, r) })
			}
		})
	}
}

func TestHistoryBounds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.must(create("a1", "p1", "x"))
	states := []string{StateOK, StateAlarm}
	for i := range 10 {
		h.must(Transition{TransitionID: "t" + string(rune('a'+i)), AlarmID: "a1", To: states[i%2], Limits: lim})
	}
	h.read(func(r *Records) {
		hist := r.History("a1")
		require.Len(t, hist, lim.PerAlarm, "bounded per alarm")
		require.Equal(t, "tj", hist[len(hist)-1].EventID, "newest kept")
	})
	// An hour later (the leader's clock), older entries age out.
	h.index += 3600
	h.must(Transition{TransitionID: "late", AlarmID: "a1", To: StateInsufficientData, Limits: lim})
	h.read(func(r *Records) {
		hist := r.History("a1")
		require.Len(t, hist, 1)
		require.Equal(t, "late", hist[0].EventID)
	})
	// A deleted alarm's history goes once it ages out.
	h.must(Delete{ID: "a1", Limits: lim})
	h.index += 7200
	h.must(create("a2", "p1", "y"))
	h.read(func(r *Records) {
		require.Empty(t, r.History("a1"))
		require.Len(t, r.History("a2"), 1)
	})
}

func TestPendingBound(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.must(create("a1", "p1", "x"))
	for i := range MaxPendingPerAlarm + 3 {
		h.must(Transition{TransitionID: "t" + string(rune('A'+i)), AlarmID: "a1", To: StateAlarm, Notify: true, Limits: HistoryLimits{PerAlarm: 100}})
	}
	h.read(func(r *Records) {
		p := r.Pending()
		require.Len(t, p, MaxPendingPerAlarm)
		require.Equal(t, "tD", p[0].TransitionID, "the oldest were dropped")
		dropped := 0
		for _, c := range r.History("a1") {
			if c.Type == ChangeAction {
				dropped++
			}
		}
		require.Equal(t, 3, dropped, "each drop is in the history")
	})
}

// fixture is the command list behind testdata/snapshot-v1.golden.
func fixture() []fsm.Command {
	return []fsm.Command{
		create("a1", "p1", "cpu high"),
		create("a2", "p2", "disk full"),
		Transition{TransitionID: "t1", AlarmID: "a1", From: StateInsufficientData, To: StateAlarm, Reason: "4 datapoints are above 80", ReasonData: json.RawMessage(`{"type":"threshold","count":4}`), Notify: true, Limits: lim},
		DeliveryDone{TransitionID: "t1", Action: "log://", Outcome: OutcomeDelivered, Limits: lim},
		Update{Alarm: testAlarm("a2", "p2", "disk nearly full"), UserID: "u2", ProjectID: "p2", EventID: "ev-u", Limits: lim},
		Delete{ID: "a2", EventID: "ev-d", Limits: lim},
	}
}

// TestSnapshotGolden pins the alarms section's snapshot form (version 1):
// the fixture commands must produce the committed golden file, and every
// later version must restore it.
func TestSnapshotGolden(t *testing.T) {
	h := newHarness(t)
	h.must(fixture()...)
	section := alarmsSection(t, snapshotOf(t, h.f))
	path := filepath.Join("testdata", "snapshot-v1.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, append(section, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	want = bytes.TrimSpace(want)
	require.Equal(t, string(want), string(section), "the alarms section's snapshot form changed: bump its Version, keep reading v1, and add a fixture")

	f2 := fsm.New(hclog.NewNullLogger())
	snap := `altimeter-fsm-snapshot 1` + "\n" + `{"index":6,"sections":{"alarms":{"version":1,"data":` + string(want) + `}}}`
	require.NoError(t, f2.Restore(io.NopCloser(bytes.NewReader([]byte(snap)))))
	require.Equal(t, string(want), string(alarmsSection(t, snapshotOf(t, f2))))
	f2.Read(func(st *fsm.State) {
		r := Of(st)
		require.Equal(t, 1, r.Len())
		p := r.Pending()
		require.Len(t, p, 1)
		require.Equal(t, []string{"http://127.0.0.1:9/a"}, p[0].Actions)
		require.Len(t, r.History("a2"), 3)
		_, taken := r.names[nameKey{"p1", "cpu high"}]
		require.True(t, taken, "the restored name index refuses a duplicate")
	})
}

func alarmsSection(t *testing.T, snap []byte) []byte {
	t.Helper()
	_, body, ok := bytes.Cut(snap, []byte("\n"))
	require.True(t, ok)
	var doc struct {
		Sections map[string]struct {
			Version int             `json:"version"`
			Data    json.RawMessage `json:"data"`
		} `json:"sections"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	s, ok := doc.Sections[SectionName]
	require.True(t, ok)
	require.Equal(t, 1, s.Version)
	return s.Data
}

func snapshotOf(t *testing.T, f *fsm.FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	require.NoError(t, err)
	sink := &memSink{}
	require.NoError(t, s.Persist(sink))
	return sink.Bytes()
}

type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }
