package fsm

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Section is one named part of the replicated state, owned by the package
// that registers it. Its JSON form (MarshalJSON) is what snapshots hold and
// must be deterministic (sorted lists, no map-order dependence).
type Section interface {
	json.Marshaler
}

// SectionSpec describes a section: its snapshot name and format version,
// how to make an empty one, and how to read a snapshot of any version it
// still supports (older versions are upgraded here).
type SectionSpec struct {
	Name    string
	Version int
	New     func() Section
	Restore func(version int, data json.RawMessage) (Section, error)
}

var sections = map[string]SectionSpec{}

// RegisterSection adds a state section. It is meant for init functions and
// panics on a duplicate name.
func RegisterSection(s SectionSpec) {
	if s.Name == "" || s.Version < 1 || s.New == nil || s.Restore == nil {
		panic("fsm: register section: name, version >= 1, New and Restore are required")
	}
	if _, dup := sections[s.Name]; dup {
		panic(fmt.Sprintf("fsm: section %q registered twice", s.Name))
	}
	sections[s.Name] = s
}

// State is the whole replicated state: one value per registered section,
// plus sections a snapshot held that this binary does not know, kept
// verbatim so they survive into the next snapshot.
type State struct {
	sections map[string]Section
	unknown  map[string]rawSection
}

type rawSection struct {
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
}

func newState() *State {
	st := &State{sections: map[string]Section{}, unknown: map[string]rawSection{}}
	for name, spec := range sections {
		st.sections[name] = spec.New()
	}
	return st
}

// Section returns the section registered under name; it panics for a name
// nobody registered (a programming error).
func (st *State) Section(name string) Section {
	s, ok := st.sections[name]
	if !ok {
		panic(fmt.Sprintf("fsm: no section %q", name))
	}
	return s
}

// sectionNames returns the registered and unknown names, sorted.
func (st *State) sectionNames() []string {
	names := make([]string, 0, len(st.sections)+len(st.unknown))
	for n := range st.sections {
		names = append(names, n)
	}
	for n := range st.unknown {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
