package wire

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/sdk/sample"
)

// event decodes one altimeter.v1.Event into ev as protobuf's decoder and
// EventFromProto do: a repeated scalar field's last value wins, a field of
// an unexpected wire type is skipped as unknown, a string that is not
// UTF-8 is refused. An event of a listener's batch carries some twenty
// traits, which protobuf's decoder turns into three allocations each; here
// the event type and the trait names are interned (str), and a trait's
// text equal to the previous event's at the same position, with the same
// name, is that string again: events of one definition mostly repeat
// their host, state, flavor and project.
func (d *Decoder) event(b []byte, ev *sample.Event) error {
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return malformed(fmt.Sprintf("event at byte %d", off), protowire.ParseError(n))
		}
		off += n
		var m int
		var err error
		switch {
		case num == 1 && typ == protowire.BytesType:
			var v []byte
			if v, m = protowire.ConsumeBytes(b[off:]); m >= 0 {
				ev.MessageID, err = unique(v)
			}
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			if v, m = protowire.ConsumeBytes(b[off:]); m >= 0 {
				ev.EventType, err = d.str(v, ev.EventType)
			}
		case num == 3 && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			ev.Generated = fromUnixNano(int64(v)) //nolint:gosec // int64 on the wire
		case num == 4 && typ == protowire.BytesType:
			var v []byte
			if v, m = protowire.ConsumeBytes(b[off:]); m >= 0 {
				if ev.Traits == nil {
					ev.Traits = make([]sample.Trait, 0, max(len(d.prevTraits), 1))
				}
				var tr sample.Trait
				if tr, err = d.trait(v, len(ev.Traits)); err == nil {
					ev.Traits = append(ev.Traits, tr)
				}
			}
		case num == 5 && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			ev.Raw = append([]byte(nil), v...) // nil when empty, as protobuf's
		default:
			m = skip(num, typ, b[off:])
		}
		if m < 0 {
			return malformed(fmt.Sprintf("event field %d", num), protowire.ParseError(m))
		}
		if err != nil {
			return malformed(fmt.Sprintf("event field %d", num), err)
		}
		off += m
	}
	if ev.Traits == nil {
		ev.Traits = []sample.Trait{} // EventFromProto's, for no traits
	}
	d.prevTraits = append(d.prevTraits[:0], ev.Traits...)
	return nil
}

// trait decodes the i-th altimeter.v1.Trait of an event. A trait with no
// value set is text "", as EventFromProto reads it; of several values set,
// the last wins (a oneof).
func (d *Decoder) trait(b []byte, i int) (sample.Trait, error) {
	tr := sample.Trait{Type: sample.TraitText}
	var text []byte
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return tr, malformed(fmt.Sprintf("trait at byte %d", off), protowire.ParseError(n))
		}
		off += n
		var m int
		var err error
		switch {
		case num == 1 && typ == protowire.BytesType:
			var v []byte
			if v, m = protowire.ConsumeBytes(b[off:]); m >= 0 {
				tr.Name, err = d.str(v, tr.Name)
			}
		case num == 2 && typ == protowire.BytesType:
			if text, m = protowire.ConsumeBytes(b[off:]); m >= 0 {
				if !utf8.Valid(text) {
					err = errUTF8
				}
				tr = sample.Trait{Name: tr.Name, Type: sample.TraitText}
			}
		case num == 3 && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			tr, text = sample.Trait{Name: tr.Name, Type: sample.TraitInt, Int: int64(v)}, nil //nolint:gosec // int64 on the wire
		case num == 4 && typ == protowire.Fixed64Type:
			var v uint64
			v, m = protowire.ConsumeFixed64(b[off:])
			tr, text = sample.Trait{Name: tr.Name, Type: sample.TraitFloat, Float: math.Float64frombits(v)}, nil
		case num == 5 && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			tr, text = sample.Trait{Name: tr.Name, Type: sample.TraitDatetime, Datetime: fromUnixNano(int64(v))}, nil //nolint:gosec // int64 on the wire
		default:
			m = skip(num, typ, b[off:])
		}
		if m < 0 {
			return tr, malformed(fmt.Sprintf("trait field %d", num), protowire.ParseError(m))
		}
		if err != nil {
			return tr, malformed(fmt.Sprintf("trait field %d", num), err)
		}
		off += m
	}
	if tr.Type == sample.TraitText && len(text) > 0 {
		if i < len(d.prevTraits) && d.prevTraits[i].Name == tr.Name && d.prevTraits[i].Type == sample.TraitText &&
			d.prevTraits[i].Text == string(text) {
			tr.Text = d.prevTraits[i].Text
		} else {
			tr.Text = string(text)
		}
	}
	return tr, nil
}

// traitSize is the encoded size of t as an altimeter.v1.Trait: its name
// and the one value of its oneof, which is encoded even when zero.
func traitSize(t *sample.Trait) int {
	n := sizeString(t.Name)
	switch t.Type {
	case sample.TraitInt:
		n += 1 + protowire.SizeVarint(uint64(t.Int)) //nolint:gosec // int64 on the wire
	case sample.TraitFloat:
		n += 1 + 8
	case sample.TraitDatetime:
		n += 1 + protowire.SizeVarint(uint64(unixNano(t.Datetime))) //nolint:gosec // int64 on the wire
	default:
		n += 1 + protowire.SizeBytes(len(t.Text))
	}
	return n
}

// appendEvent appends e as a Batch field 2 record: the bytes protobuf's
// encoder gives for EventToProto(e), without building the messages. It
// refuses what that encoder refuses, a string that is not UTF-8.
func appendEvent(b []byte, e *sample.Event) ([]byte, error) {
	if !validString(e.MessageID) || !validString(e.EventType) {
		return b, fmt.Errorf("message_id or event_type: %w", errUTF8)
	}
	size := sizeString(e.MessageID) + sizeString(e.EventType) + sizeVarint(uint64(unixNano(e.Generated))) //nolint:gosec // int64 on the wire
	for i := range e.Traits {
		t := &e.Traits[i]
		if !validString(t.Name) || t.Type != sample.TraitInt && t.Type != sample.TraitFloat && t.Type != sample.TraitDatetime && !validString(t.Text) {
			return b, fmt.Errorf("trait %q: %w", t.Name, errUTF8)
		}
		size += 1 + protowire.SizeBytes(traitSize(t))
	}
	if len(e.Raw) > 0 {
		size += 1 + protowire.SizeBytes(len(e.Raw))
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	b = appendString(b, 1, e.MessageID)
	b = appendString(b, 2, e.EventType)
	b = appendVarint(b, 3, uint64(unixNano(e.Generated))) //nolint:gosec // int64 on the wire
	for i := range e.Traits {
		t := &e.Traits[i]
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(traitSize(t)))
		b = appendString(b, 1, t.Name)
		switch t.Type {
		case sample.TraitInt:
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(t.Int)) //nolint:gosec // int64 on the wire
		case sample.TraitFloat:
			b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(t.Float))
		case sample.TraitDatetime:
			b = protowire.AppendTag(b, 5, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(unixNano(t.Datetime))) //nolint:gosec // int64 on the wire
		default:
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendString(b, t.Text)
		}
	}
	if len(e.Raw) > 0 {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, e.Raw)
	}
	return b, nil
}
