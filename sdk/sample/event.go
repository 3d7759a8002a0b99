package sample

import "time"

// TraitType is the type of a trait value.
type TraitType uint8

// The trait types, as in Panko.
const (
	TraitText TraitType = iota + 1
	TraitInt
	TraitFloat
	TraitDatetime
)

// String returns the Panko name of t.
func (t TraitType) String() string {
	switch t {
	case TraitText:
		return "string"
	case TraitInt:
		return "integer"
	case TraitFloat:
		return "float"
	case TraitDatetime:
		return "datetime"
	}
	return "unknown"
}

// Trait is one typed field of an event. Exactly one of the value fields is
// meaningful, chosen by Type.
type Trait struct {
	Name     string
	Type     TraitType
	Text     string
	Int      int64
	Float    float64
	Datetime time.Time
}

// Event is a notification kept whole.
type Event struct {
	MessageID string
	EventType string
	Generated time.Time
	Traits    []Trait
	// Raw is the original payload, when kept.
	Raw []byte
}
