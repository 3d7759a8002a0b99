package rawbatch

import (
	"fmt"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Decoder decodes batches into package sample's types, for the host
// component that looks inside them (the store publisher), with the result
// Decode and the sdk's BatchFromProto give, without the generated messages
// in between: the sdk's wire.Decoder, which interns the strings that repeat
// (names, units, ids, metadata, event types, trait names) in a bounded
// table kept across batches, and reuses a trait's text equal to the previous
// event's. No decoded string or byte slice shares memory with the batch.
// Safe for concurrent use (calls are serialised).
type Decoder struct {
	d wire.Decoder
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode decodes b's samples and events. Errors wrap ErrMalformed (which
// a Batch, checked when built, does not give in practice).
func (d *Decoder) Decode(b *Batch) (sample.Batch, error) {
	var out sample.Batch
	if err := d.d.Batch(b.Bytes(), &out); err != nil {
		return sample.Batch{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return out, nil
}
