package wire

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/sdk/sample"
)

// BatchMessage is any message whose only field is `Batch batch = 1`
// (TransformRequest, TransformResponse, FlushResponse, PublishRequest) held
// as package sample's types, for a plugin's gRPC server: Codec decodes it
// straight from the wire bytes and encodes it straight into them.
type BatchMessage struct {
	Batch sample.Batch
	// RawEvents are Batch field 2 records as on the wire. Decoded with
	// KeepRawEvents, the events land here instead of in Batch.Events (and
	// notifications are dropped); encoded, they follow Batch's items.
	RawEvents     []byte
	KeepRawEvents bool
	// Decoder decodes; nil: a new one for this message.
	Decoder *Decoder
}

// Delivery is an altimeter.v1.Delivery a listener plugin sends, encoded by
// Codec straight from the batch.
type Delivery struct {
	ID    uint64
	Batch *sample.Batch
}

// Encoded is a message already encoded by Codec.Marshal; Codec sends its
// bytes as they are and gRPC frees them once sent. A sender encodes first
// when an encoding error must not end its stream (gRPC ends a stream whose
// SendMsg cannot marshal): a listener refuses that delivery and goes on.
type Encoded mem.BufferSlice

// Codec is a gRPC codec (content subtype "proto", the bytes are ordinary
// protobuf) for a plugin's server: it moves BatchMessage and Delivery
// values without the generated messages and every other message through
// gRPC's proto codec. Install it with grpc.ForceServerCodecV2. The zero
// value is ready; it keeps its encoding scratch space for reuse, and is
// safe for concurrent use.
type Codec struct {
	scratch sync.Pool // *batchEncoding
	buffers bufferPool
}

var _ encoding.CodecV2 = &Codec{}

// Name is the content subtype.
func (*Codec) Name() string { return proto.Name }

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2(proto.Name) }

// Marshal encodes v.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(Encoded); ok {
		return mem.BufferSlice(m), nil
	}
	e, _ := c.scratch.Get().(*batchEncoding)
	if e == nil {
		e = &batchEncoding{}
	}
	defer func() {
		e.samples, e.extra = nil, e.extra[:0] // no reference to the caller's batch
		clear(e.meta)
		c.scratch.Put(e)
	}()
	var (
		field   protowire.Number
		id      uint64
		hasBody = true
	)
	switch m := v.(type) {
	case *BatchMessage:
		field = 1
		if err := e.prepare(m.Batch.Samples, &m.Batch, m.RawEvents); err != nil {
			return nil, err
		}
	case *Delivery:
		field, id, hasBody = 2, m.ID, m.Batch != nil
		var samples []sample.Sample
		if m.Batch != nil {
			samples = m.Batch.Samples
		}
		if err := e.prepare(samples, m.Batch, nil); err != nil {
			return nil, err
		}
	default:
		return protoCodec().Marshal(v)
	}
	size := sizeVarint(id)
	if hasBody {
		size += 1 + protowire.SizeBytes(e.size)
	}
	var (
		buf  *[]byte
		pool mem.BufferPool
	)
	if mem.IsBelowBufferPoolingThreshold(size) {
		b := make([]byte, 0, size)
		buf = &b
	} else {
		pool = &c.buffers
		buf = pool.Get(size)
		*buf = (*buf)[:0]
	}
	b := appendVarint(*buf, 1, id)
	if hasBody {
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(e.size))
		b = e.append(b)
	}
	if len(b) != size {
		// A sizing bug: never send bytes whose lengths lie.
		if pool != nil {
			pool.Put(buf)
		}
		return nil, fmt.Errorf("encode %T: %d bytes written for a size of %d", v, len(b), size)
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes data into v.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*BatchMessage)
	if !ok {
		return protoCodec().Unmarshal(data, v)
	}
	var raw []byte
	if len(data) == 1 {
		raw = data[0].ReadOnlyData()
	} else {
		buf := data.MaterializeToBuffer(&c.buffers)
		defer buf.Free()
		raw = buf.ReadOnlyData()
	}
	d := m.Decoder
	if d == nil {
		d = &Decoder{}
	}
	m.Batch, m.RawEvents = sample.Batch{}, nil
	first := true
	for off := 0; off < len(raw); {
		num, typ, n := consumeTag(raw[off:])
		if n < 0 {
			return malformed(fmt.Sprintf("message at byte %d", off), protowire.ParseError(n))
		}
		off += n
		if num != 1 || typ != protowire.BytesType {
			n = skip(num, typ, raw[off:])
			if n < 0 {
				return malformed(fmt.Sprintf("message at byte %d", off), protowire.ParseError(n))
			}
			off += n
			continue
		}
		part, n := protowire.ConsumeBytes(raw[off:])
		if n < 0 {
			return malformed(fmt.Sprintf("message at byte %d", off), protowire.ParseError(n))
		}
		off += n
		// Several occurrences of the field merge, which for a message of
		// repeated fields is appending each one's items.
		var err error
		if m.KeepRawEvents {
			m.Batch.Samples, m.RawEvents, err = d.Samples(part, m.Batch.Samples, m.RawEvents)
		} else if first {
			err = d.Batch(part, &m.Batch)
		} else {
			var b sample.Batch
			err = d.Batch(part, &b)
			m.Batch.Samples = append(m.Batch.Samples, b.Samples...)
			m.Batch.Events = append(m.Batch.Events, b.Events...)
			m.Batch.Notifications = append(m.Batch.Notifications, b.Notifications...)
		}
		if err != nil {
			return err
		}
		first = false
	}
	return nil
}
