package fsm

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// SectionMembers is the members section's name.
const SectionMembers = "members"

// Limits on a member record.
const (
	MaxIDLen        = 128
	MaxCapabilities = 256
	maxCapLen       = 256
)

// Member is one cluster member as it announced itself.
type Member struct {
	ID string `json:"id"`
	// RaftAddress is host:port of its raft (and member RPC) listener.
	RaftAddress string `json:"raft_address"`
	// APIAddress is host:port of its REST API.
	APIAddress string `json:"api_address,omitempty"`
	// Pollsters are the central pollster instances it runs
	// ("pollster.snmp"): the resources of those it may be given.
	Pollsters []string `json:"pollsters"`
	// Discovery are the discovery sources it can run ("snmp.static").
	Discovery []string `json:"discovery"`
	// Joined is when it was first recorded, Updated when last announced
	// (leader's clock).
	Joined  time.Time `json:"joined"`
	Updated time.Time `json:"updated"`
}

// Serves reports whether m runs the central pollster instance id.
func (m Member) Serves(pollster string) bool {
	i := sort.SearchStrings(m.Pollsters, pollster)
	return i < len(m.Pollsters) && m.Pollsters[i] == pollster
}

// Members is the members section: every member record by id.
type Members struct {
	byID map[string]Member
}

// Get returns the member with id.
func (ms *Members) Get(id string) (Member, bool) {
	m, ok := ms.byID[id]
	return m, ok
}

// List returns every member, by id.
func (ms *Members) List() []Member {
	out := make([]Member, 0, len(ms.byID))
	for _, m := range ms.byID {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// MarshalJSON writes the members sorted by id.
func (ms *Members) MarshalJSON() ([]byte, error) { return json.Marshal(ms.List()) }

func init() {
	RegisterSection(SectionSpec{
		Name:    SectionMembers,
		Version: 1,
		New:     func() Section { return &Members{byID: map[string]Member{}} },
		Restore: func(_ int, data json.RawMessage) (Section, error) {
			var list []Member
			if err := json.Unmarshal(data, &list); err != nil {
				return nil, err
			}
			ms := &Members{byID: make(map[string]Member, len(list))}
			for _, m := range list {
				if err := m.check(); err != nil {
					return nil, err
				}
				ms.byID[m.ID] = m
			}
			return ms, nil
		},
	})
}

// MembersOf returns the members section of st.
func MembersOf(st *State) *Members { return st.Section(SectionMembers).(*Members) }

// CheckID validates a node id: 1 to MaxIDLen printable characters without
// spaces.
func CheckID(id string) error {
	if id == "" || len(id) > MaxIDLen || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' }) >= 0 {
		return fmt.Errorf("%w: node id %q: want 1 to %d printable characters, no spaces or slashes", ErrInvalid, truncate(id, MaxIDLen), MaxIDLen)
	}
	return nil
}

// CheckAddress validates a host:port with a numeric port in 1-65535.
func CheckAddress(what, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%w: %s %q: want host:port", ErrInvalid, what, truncate(addr, 300))
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%w: %s %q: port must be 1 to 65535", ErrInvalid, what, truncate(addr, 300))
	}
	return nil
}

func (m Member) check() error {
	if err := CheckID(m.ID); err != nil {
		return err
	}
	if err := CheckAddress("raft address", m.RaftAddress); err != nil {
		return fmt.Errorf("member %s: %w", m.ID, err)
	}
	if m.APIAddress != "" {
		if err := CheckAddress("api address", m.APIAddress); err != nil {
			return fmt.Errorf("member %s: %w", m.ID, err)
		}
	}
	for _, list := range [][]string{m.Pollsters, m.Discovery} {
		if len(list) > MaxCapabilities {
			return fmt.Errorf("%w: member %s: more than %d pollsters or discovery sources", ErrInvalid, m.ID, MaxCapabilities)
		}
		if !sort.StringsAreSorted(list) {
			return fmt.Errorf("%w: member %s: capability lists must be sorted", ErrInvalid, m.ID)
		}
		for _, c := range list {
			if c == "" || len(c) > maxCapLen {
				return fmt.Errorf("%w: member %s: capability %q: want 1 to %d bytes", ErrInvalid, m.ID, truncate(c, 64), maxCapLen)
			}
		}
	}
	return nil
}
