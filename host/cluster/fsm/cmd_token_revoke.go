package fsm

import (
	"fmt"

	"github.com/altimeter/altimeter/host/auth"
)

// TokenRevoke deletes an API token: every member refuses it once it
// applied the entry.
type TokenRevoke struct {
	ID string `json:"id"`
}

// CommandType implements Command.
func (TokenRevoke) CommandType() Type { return TypeTokenRevoke }

func init() { RegisterCommand("token_revoke", applyTokenRevoke) }

func applyTokenRevoke(st *State, _ Entry, c TokenRevoke) error {
	ts := TokensOf(st)
	r, ok := ts.byID[c.ID]
	if !ok {
		return fmt.Errorf("%w: %w: %q", ErrNotFound, auth.ErrUnknownToken, truncate(c.ID, 64))
	}
	delete(ts.byHash, r.Hash)
	delete(ts.byID, c.ID)
	return nil
}
