package fsm

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/altimeter/altimeter/host/auth"
)

// SectionTokens is the API tokens section's name.
const SectionTokens = "tokens"

// MaxTokens bounds the number of live tokens.
const MaxTokens = 100_000

// Tokens is the tokens section: every live API token, hashed.
type Tokens struct {
	byID   map[string]auth.Record
	byHash map[string]string // hash -> id
}

func newTokens() *Tokens {
	return &Tokens{byID: map[string]auth.Record{}, byHash: map[string]string{}}
}

// Lookup returns the token whose plaintext hashes to hash.
func (ts *Tokens) Lookup(hash string) (auth.Record, bool) {
	id, ok := ts.byHash[hash]
	if !ok {
		return auth.Record{}, false
	}
	r := ts.byID[id]
	if subtle.ConstantTimeCompare([]byte(r.Hash), []byte(hash)) != 1 {
		return auth.Record{}, false
	}
	return r, true
}

// Get returns the token with id.
func (ts *Tokens) Get(id string) (auth.Record, bool) {
	r, ok := ts.byID[id]
	return r, ok
}

// Len is the number of live tokens.
func (ts *Tokens) Len() int { return len(ts.byID) }

// List returns every live token, oldest first (then by id).
func (ts *Tokens) List() []auth.Record {
	out := make([]auth.Record, 0, len(ts.byID))
	for _, r := range ts.byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// MarshalJSON writes the records in List order.
func (ts *Tokens) MarshalJSON() ([]byte, error) { return json.Marshal(ts.List()) }

func (ts *Tokens) add(r auth.Record) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, dup := ts.byID[r.ID]; dup {
		return fmt.Errorf("%w: token id %s exists", ErrConflict, r.ID)
	}
	if _, dup := ts.byHash[r.Hash]; dup {
		return fmt.Errorf("%w: a token with this secret exists", ErrConflict)
	}
	if len(ts.byID) >= MaxTokens {
		return fmt.Errorf("%w: %d tokens is the limit; revoke some first", ErrConflict, MaxTokens)
	}
	ts.byID[r.ID] = r
	ts.byHash[r.Hash] = r.ID
	return nil
}

func init() {
	RegisterSection(SectionSpec{
		Name:    SectionTokens,
		Version: 1,
		New:     func() Section { return newTokens() },
		Restore: func(_ int, data json.RawMessage) (Section, error) {
			var list []auth.Record
			if err := json.Unmarshal(data, &list); err != nil {
				return nil, err
			}
			ts := newTokens()
			for _, r := range list {
				if err := ts.add(r); err != nil {
					return nil, err
				}
			}
			return ts, nil
		},
	})
}

// TokensOf returns the tokens section of st.
func TokensOf(st *State) *Tokens { return st.Section(SectionTokens).(*Tokens) }
