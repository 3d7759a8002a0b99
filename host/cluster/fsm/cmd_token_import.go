package fsm

import (
	"fmt"

	"github.com/altimeter/altimeter/host/auth"
)

// MaxImport bounds the tokens of one TokenImport.
const MaxImport = 10_000

// TokenImport brings the tokens of a member's tokens.json (the store
// before the cluster) into the replicated state, keeping their ids and
// creation times. Tokens whose id or secret is already present are
// skipped, so importing twice is harmless; a record that is invalid fails
// the whole import and nothing is added.
type TokenImport struct {
	Tokens []auth.Record `json:"tokens"`
}

// CommandType implements Command.
func (TokenImport) CommandType() Type { return TypeTokenImport }

func init() { RegisterCommand("token_import", applyTokenImport) }

func applyTokenImport(st *State, _ Entry, c TokenImport) error {
	if len(c.Tokens) > MaxImport {
		return fmt.Errorf("%w: %d tokens in one import; the limit is %d", ErrInvalid, len(c.Tokens), MaxImport)
	}
	for _, r := range c.Tokens {
		if err := r.Check(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	ts := TokensOf(st)
	if ts.Len()+len(c.Tokens) > MaxTokens {
		return fmt.Errorf("%w: importing %d tokens would pass the limit of %d", ErrConflict, len(c.Tokens), MaxTokens)
	}
	for _, r := range c.Tokens {
		if _, ok := ts.byID[r.ID]; ok {
			continue
		}
		if _, ok := ts.byHash[r.Hash]; ok {
			continue
		}
		r.Created = r.Created.UTC()
		if err := ts.add(r); err != nil {
			return err
		}
	}
	return nil
}
