package fsm

import "github.com/altimeter/altimeter/host/auth"

// TokenCreate adds an API token. The proposer generates the secret and
// sends only its hash; the creation time is the leader's.
type TokenCreate struct {
	Token auth.Record `json:"token"`
}

// CommandType implements Command.
func (TokenCreate) CommandType() Type { return TypeTokenCreate }

func init() { RegisterCommand("token_create", applyTokenCreate) }

func applyTokenCreate(st *State, e Entry, c TokenCreate) error {
	r := c.Token
	r.Created = e.Time.Truncate(1e9)
	return TokensOf(st).add(r)
}
