package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/altimeter/altimeter/sdk/sample"
)

// ErrConflict means a write names something another project owns (a
// resource); the API answers 409.
var ErrConflict = errors.New("conflict")

// ResourceConflictError is the refusal of a project's write that names a
// resource of another project: samples[Index].resource_id. It says nothing
// else of that resource (not its project, not its times).
type ResourceConflictError struct {
	Index      int
	ResourceID string
}

func (e *ResourceConflictError) Error() string {
	return fmt.Sprintf("sample %d: resource %q belongs to another project", e.Index, e.ResourceID)
}

func (e *ResourceConflictError) Unwrap() error { return ErrConflict }

// WriteStatus is what a write did with one sample.
type WriteStatus uint8

// Write statuses.
const (
	// Stored: stored by this write.
	Stored WriteStatus = iota
	// Duplicate: already stored in the sample's project (the same
	// message_id, or, without one, the same series and timestamp).
	Duplicate
	// TooOld: not stored, more than the out-of-order window behind the
	// newest sample of its series.
	TooOld
)

// WriteResult says what WriteAs did with each sample.
type WriteResult struct {
	Stored, Duplicates, TooOld int
	// Status[i] is what happened to samples[i].
	Status []WriteStatus
	// MessageIDs[i] is the id samples[i] is stored under: its own, or for
	// a sample without one the canonical id of its series and timestamp
	// (what GET /v2/samples/{id} finds it by).
	MessageIDs []string
}

// ProjectWriter is what POST /v2/meters/{name} writes through: a write on
// behalf of a project (a member token), or of an admin (project "").
type ProjectWriter interface {
	WriteAs(ctx context.Context, project string, samples []sample.Sample) (WriteResult, error)
}

var _ ProjectWriter = (*Store)(nil)

// WriteAs writes samples as Write does, on behalf of project, and reports
// what became of each. A resource belongs to one project: with a project
// set, every sample must be of that project, and a sample that names a
// resource the index holds for another project fails the whole write with
// a *ResourceConflictError before anything is written, so another project's
// resource keeps its project, its times and its metadata. An admin (project
// "") may write any project's resources; the latest sample's project wins,
// as for the pipelines' writes.
//
// Message ids are unique per project: a sample whose id another project
// uses is stored, and a project cannot learn which ids others use.
func (s *Store) WriteAs(ctx context.Context, project string, samples []sample.Sample) (WriteResult, error) {
	if project != "" {
		release, err := s.claim(ctx, project, samples)
		if err != nil {
			return WriteResult{}, err
		}
		defer release()
	}
	res, err := s.write(ctx, samples)
	if err != nil {
		return WriteResult{}, err
	}
	out := WriteResult{Status: make([]WriteStatus, len(samples)), MessageIDs: make([]string, len(samples))}
	for i := range samples {
		switch {
		case i < len(res.New) && res.New[i]:
			out.Stored++
		case res.Old != nil && res.Old[i]:
			out.Status[i] = TooOld
			out.TooOld++
		default:
			out.Status[i] = Duplicate
			out.Duplicates++
		}
		out.MessageIDs[i] = samples[i].MessageID
		if out.MessageIDs[i] == "" && i < len(res.IDs) {
			out.MessageIDs[i] = locatorID(uint64(res.IDs[i]), samples[i].Timestamp.UnixMicro())
		}
	}
	return out, nil
}

// claim checks that project may write samples' resources: each is unknown
// or already the project's. When some are unknown it returns holding the
// store's claim lock (release frees it), so that no other project's write
// creates them in between.
func (s *Store) claim(ctx context.Context, project string, samples []sample.Sample) (release func(), err error) {
	ids := make([]string, 0, 4)
	seen := make(map[string]bool, 4)
	for i := range samples {
		if samples[i].ProjectID != project {
			return nil, fmt.Errorf("write sample %d: %w: project %q, want %q", i, ErrInvalid, samples[i].ProjectID, project)
		}
		if id := samples[i].ResourceID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	check := func() (unknown bool, err error) {
		owners, err := s.index.Owners(ctx, ids)
		if err != nil {
			return false, fmt.Errorf("write samples: %w", err)
		}
		for i := range samples {
			p, ok := owners[samples[i].ResourceID]
			if !ok {
				unknown = true
			} else if p != project {
				return false, &ResourceConflictError{Index: i, ResourceID: samples[i].ResourceID}
			}
		}
		return unknown, nil
	}
	refused := func(err error) error {
		if errors.Is(err, ErrConflict) {
			s.notStored.WithLabelValues("resource_conflict").Add(float64(len(samples)))
		}
		return err
	}
	unknown, err := check()
	if err != nil {
		return nil, refused(err)
	}
	if !unknown {
		return func() {}, nil
	}
	s.claimMu.Lock()
	if _, err := check(); err != nil {
		s.claimMu.Unlock()
		return nil, refused(err)
	}
	return s.claimMu.Unlock, nil
}
