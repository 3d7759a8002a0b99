package base

import pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"

// Outcome is how a publisher or the host's sinks handled a batch.
type Outcome uint8

// The outcomes.
const (
	OutcomeUnspecified Outcome = iota
	// Accepted: safely handled; a listener may ack its broker.
	Accepted
	// Retry: not handled now; try again later (a listener requeues).
	Retry
	// Rejected: will never be handled (a listener dead-letters it).
	Rejected
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Retry:
		return "retry"
	case Rejected:
		return "rejected"
	}
	return "unspecified"
}

// ToProto converts o.
func (o Outcome) ToProto() pb.Outcome { return pb.Outcome(o) }

// OutcomeFromProto converts an outcome.
func OutcomeFromProto(p pb.Outcome) Outcome { return Outcome(p) }
