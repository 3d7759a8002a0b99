package fsm

// MemberUpsert records a member, or updates its addresses and
// capabilities. Each member proposes its own record once it has a leader,
// and again when its config changes. Capability lists must be sorted.
type MemberUpsert struct {
	Member Member `json:"member"`
}

// CommandType implements Command.
func (MemberUpsert) CommandType() Type { return TypeMemberUpsert }

func init() { RegisterCommand("member_upsert", applyMemberUpsert) }

func applyMemberUpsert(st *State, e Entry, c MemberUpsert) error {
	m := c.Member
	if err := m.check(); err != nil {
		return err
	}
	ms := MembersOf(st)
	m.Joined = e.Time
	if prev, ok := ms.byID[m.ID]; ok {
		m.Joined = prev.Joined
	}
	m.Updated = e.Time
	ms.byID[m.ID] = m
	return nil
}
