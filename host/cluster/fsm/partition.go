package fsm

import (
	"encoding/json"
	"time"
)

// SectionPartition is the partition map section's name.
const SectionPartition = "partition"

// Partition is the partition map: which members share the central
// resources in this epoch. The assignment itself is computed by every
// member from it (rendezvous hashing over Live, host/cluster.Assign), so
// the map stays this small whatever the number of resources.
type Partition struct {
	Epoch uint64 `json:"epoch"`
	// Live are the member ids that poll in this epoch, sorted.
	Live []string `json:"live"`
	// Changed is when the epoch was committed (leader's clock).
	Changed time.Time `json:"changed"`
}

// MarshalJSON writes the map as is (Live is kept sorted).
func (p *Partition) MarshalJSON() ([]byte, error) {
	type plain Partition
	q := plain(*p)
	if q.Live == nil {
		q.Live = []string{}
	}
	return json.Marshal(q)
}

// IsLive reports whether id polls in this epoch.
func (p *Partition) IsLive(id string) bool {
	for _, l := range p.Live {
		if l == id {
			return true
		}
	}
	return false
}

func init() {
	RegisterSection(SectionSpec{
		Name:    SectionPartition,
		Version: 1,
		New:     func() Section { return &Partition{} },
		Restore: func(_ int, data json.RawMessage) (Section, error) {
			type plain Partition
			var p plain
			if err := json.Unmarshal(data, &p); err != nil {
				return nil, err
			}
			q := Partition(p)
			if err := checkLive(q.Live); err != nil {
				return nil, err
			}
			return &q, nil
		},
	})
}

// PartitionOf returns the partition section of st.
func PartitionOf(st *State) *Partition { return st.Section(SectionPartition).(*Partition) }
