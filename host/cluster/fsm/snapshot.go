package fsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/raft"
)

// Snapshot format: a header line naming the format and its version, then
// one JSON document with each section under its name, with the section's
// own version:
//
//	altimeter-fsm-snapshot 1
//	{"index":42,"sections":{"members":{"version":1,"data":[...]},...}}
//
// A newer binary reads older section versions (each section's Restore
// upgrades them); a section this binary does not know is kept verbatim.
const (
	snapshotMagic   = "altimeter-fsm-snapshot"
	snapshotVersion = 1
	// maxSnapshotSize bounds what Restore reads: the state is small by
	// design (tokens, members, alarms), never samples.
	maxSnapshotSize = 512 << 20
)

type snapshotDoc struct {
	Index    uint64                `json:"index"`
	Sections map[string]rawSection `json:"sections"`
}

// Snapshot captures the state at the last applied entry. The sections are
// encoded here, under the read lock, so Persist may run concurrently with
// later Applies.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := encodeSnapshot(f.st, f.applied)
	if err != nil {
		return nil, err
	}
	return snapshotBytes(b), nil
}

func encodeSnapshot(st *State, index uint64) ([]byte, error) {
	doc := snapshotDoc{Index: index, Sections: map[string]rawSection{}}
	for _, name := range st.sectionNames() {
		if raw, ok := st.unknown[name]; ok {
			doc.Sections[name] = raw
			continue
		}
		data, err := json.Marshal(st.sections[name])
		if err != nil {
			return nil, fmt.Errorf("snapshot section %s: %w", name, err)
		}
		doc.Sections[name] = rawSection{Version: sections[name].Version, Data: data}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	out := fmt.Appendf(nil, "%s %d\n", snapshotMagic, snapshotVersion)
	out = append(out, body...)
	return append(out, '\n'), nil
}

type snapshotBytes []byte

func (b snapshotBytes) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshotBytes) Release() {}

// Restore replaces the state with a snapshot's. A snapshot it cannot read
// whole is an error and the state is left as it was: raft then refuses to
// start rather than run on a silently empty state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	st, index, err := decodeSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	for name := range st.unknown {
		f.log.Warn("snapshot has a section this version does not know; keeping it as is", "section", name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	f.notifyLocked(index)
	return nil
}

func decodeSnapshot(r io.Reader) (*State, uint64, error) {
	br := bufio.NewReader(io.LimitReader(r, maxSnapshotSize+1))
	head, err := br.ReadString('\n')
	if err != nil {
		return nil, 0, fmt.Errorf("read header: %w", err)
	}
	var ver int
	if n, err := fmt.Sscanf(strings.TrimSpace(head), snapshotMagic+" %d", &ver); n != 1 || err != nil {
		return nil, 0, fmt.Errorf("%w: not an altimeter FSM snapshot (header %q)", ErrInvalid, truncate(head, 64))
	}
	if ver < 1 || ver > snapshotVersion {
		return nil, 0, fmt.Errorf("%w: snapshot format version %d; this binary reads 1 to %d", ErrInvalid, ver, snapshotVersion)
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return nil, 0, fmt.Errorf("read snapshot: %w", err)
	}
	if len(body) > maxSnapshotSize {
		return nil, 0, fmt.Errorf("%w: snapshot larger than %d bytes", ErrInvalid, maxSnapshotSize)
	}
	var doc snapshotDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, 0, fmt.Errorf("%w: decode snapshot: %v", ErrInvalid, err)
	}
	st := newState()
	for name, raw := range doc.Sections {
		spec, ok := sections[name]
		if !ok {
			st.unknown[name] = raw
			continue
		}
		if raw.Version < 1 || raw.Version > spec.Version {
			return nil, 0, fmt.Errorf("%w: section %s has version %d; this binary reads 1 to %d", ErrInvalid, name, raw.Version, spec.Version)
		}
		s, err := spec.Restore(raw.Version, raw.Data)
		if err != nil {
			return nil, 0, fmt.Errorf("section %s: %w", name, err)
		}
		st.sections[name] = s
	}
	return st, doc.Index, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
