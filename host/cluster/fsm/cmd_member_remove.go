package fsm

import "fmt"

// MemberRemove deletes a member's record, after the leader removed it from
// the raft configuration. The partition map is updated by its own
// command (the leader commits a new epoch without the member).
type MemberRemove struct {
	ID string `json:"id"`
}

// CommandType implements Command.
func (MemberRemove) CommandType() Type { return TypeMemberRemove }

func init() { RegisterCommand("member_remove", applyMemberRemove) }

func applyMemberRemove(st *State, _ Entry, c MemberRemove) error {
	ms := MembersOf(st)
	if _, ok := ms.byID[c.ID]; !ok {
		return fmt.Errorf("%w: member %q", ErrNotFound, truncate(c.ID, MaxIDLen))
	}
	delete(ms.byID, c.ID)
	return nil
}
