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

	// KeepBytes, set on a message before Codec decodes into it, keeps
	// the batch as the bytes it came as, in Encoded, instead of decoding
	// it: one copy, into a buffer of the codec's pool, and nothing checked
	// but the message's own framing (the receiver reads the batch, with a
	// BatchView). Call Free once done with Encoded.
	KeepBytes bool
	// Encoded is the batch a KeepBytes decode kept (an encoded
	// altimeter.v1.Batch); for a message made by Reply, the batch to send.
	Encoded []byte
	buf     *[]byte        // Encoded's storage, from pool
	pool    mem.BufferPool // nil: Encoded is not pooled
	reply   bool           // made by Reply: send Encoded as it is
}

// Buffer returns an empty buffer with room for n bytes, from the pool m's
// Encoded came from (a plain allocation when it came from none), for the
// answer to m: Reply hands it back to the pool once it is sent.
func (m *BatchMessage) Buffer(n int) []byte {
	if m.pool == nil || n <= 0 {
		return make([]byte, 0, n)
	}
	return (*m.pool.Get(n))[:0]
}

// Reply returns the message that sends encoded, an encoded
// altimeter.v1.Batch, as it is (no encoding): a buffer from Buffer, or one
// that append grew from it, goes back to the pool once gRPC has sent it.
func (m *BatchMessage) Reply(encoded []byte) *BatchMessage {
	return &BatchMessage{Encoded: encoded, pool: m.pool, reply: true}
}

// Free returns the buffer of a KeepBytes decode to its pool; Encoded is
// no longer valid.
func (m *BatchMessage) Free() {
	if m.buf != nil && m.pool != nil {
		m.pool.Put(m.buf)
	}
	m.buf, m.Encoded = nil, nil
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
		if m.reply {
			return encodedReply(m), nil
		}
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

// encodedReply frames a reply's batch: a field header, then the batch's
// bytes, handed to gRPC (and from it back to the pool) without a copy.
func encodedReply(m *BatchMessage) mem.BufferSlice {
	hdr := protowire.AppendTag(make([]byte, 0, 1+protowire.SizeVarint(uint64(len(m.Encoded)))), 1, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(len(m.Encoded)))
	if len(m.Encoded) == 0 {
		return mem.BufferSlice{mem.SliceBuffer(hdr)}
	}
	body := m.Encoded
	return mem.BufferSlice{mem.SliceBuffer(hdr), mem.NewBuffer(&body, m.pool)}
}

// keepBytes is Unmarshal of a KeepBytes message: the data copied into a
// pooled buffer, and the batch field's occurrences (which merge, by
// concatenation, as a message of repeated fields does) moved together at
// its front.
func (c *Codec) keepBytes(data mem.BufferSlice, m *BatchMessage) error {
	m.Free()
	buf := c.buffers.Get(data.Len())
	raw := *buf
	data.CopyTo(raw)
	end := 0
	for off := 0; off < len(raw); {
		num, typ, n := consumeTag(raw[off:])
		if n < 0 {
			c.buffers.Put(buf)
			return malformed(fmt.Sprintf("message at byte %d", off), protowire.ParseError(n))
		}
		off += n
		if num != 1 || typ != protowire.BytesType {
			n = skip(num, typ, raw[off:])
			if n < 0 {
				c.buffers.Put(buf)
				return malformed(fmt.Sprintf("message at byte %d", off), protowire.ParseError(n))
			}
			off += n
			continue
		}
		part, n := protowire.ConsumeBytes(raw[off:])
		if n < 0 {
			c.buffers.Put(buf)
			return malformed(fmt.Sprintf("message at byte %d", off), protowire.ParseError(n))
		}
		off += n
		end += copy(raw[end:], part) // never ahead of where part is read
	}
	m.Batch, m.RawEvents = sample.Batch{}, nil
	m.Encoded, m.buf, m.pool = raw[:end], buf, &c.buffers
	return nil
}

// Unmarshal decodes data into v.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*BatchMessage)
	if !ok {
		return protoCodec().Unmarshal(data, v)
	}
	if m.KeepBytes {
		return c.keepBytes(data, m)
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
