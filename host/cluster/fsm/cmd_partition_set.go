package fsm

import (
	"fmt"
	"sort"
)

// PartitionSet replaces the partition map whole with a new epoch, as a
// compare-and-set: Epoch must be the current epoch + 1, so a leader that
// computed its map from stale state is refused (ErrConflict) and
// recomputes. Every id in Live must be a recorded member.
type PartitionSet struct {
	Epoch uint64   `json:"epoch"`
	Live  []string `json:"live"`
}

// CommandType implements Command.
func (PartitionSet) CommandType() Type { return TypePartitionSet }

func init() { RegisterCommand("partition_set", applyPartitionSet) }

func applyPartitionSet(st *State, e Entry, c PartitionSet) error {
	p := PartitionOf(st)
	if c.Epoch != p.Epoch+1 {
		return fmt.Errorf("%w: epoch %d proposed, current is %d", ErrConflict, c.Epoch, p.Epoch)
	}
	if err := checkLive(c.Live); err != nil {
		return err
	}
	ms := MembersOf(st)
	for _, id := range c.Live {
		if _, ok := ms.byID[id]; !ok {
			return fmt.Errorf("%w: live member %q is not a member", ErrNotFound, truncate(id, MaxIDLen))
		}
	}
	*p = Partition{Epoch: c.Epoch, Live: append([]string{}, c.Live...), Changed: e.Time}
	return nil
}

func checkLive(live []string) error {
	if !sort.StringsAreSorted(live) {
		return fmt.Errorf("%w: live members must be sorted", ErrInvalid)
	}
	for i, id := range live {
		if err := CheckID(id); err != nil {
			return err
		}
		if i > 0 && live[i-1] == id {
			return fmt.Errorf("%w: live member %q repeats", ErrInvalid, id)
		}
	}
	return nil
}
