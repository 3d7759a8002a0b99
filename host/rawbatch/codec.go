package rawbatch

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

// Msg is any of the messages whose only field is `Batch batch = 1`:
// TransformRequest, TransformResponse, FlushResponse and PublishRequest.
// Sent, it costs a field header in front of the batch's bytes; received,
// Err holds a Parse error of the batch (the call itself succeeded, so the
// caller can name the plugin that sent it).
type Msg struct {
	Batch *Batch
	Err   error
}

// Delivery is a received altimeter.v1.Delivery. Err holds a Parse error of
// its batch; ID is valid all the same, so the delivery can be refused.
// Batch is nil when the delivery has no batch field (the listener's ready
// marker: id 0, no batch).
type Delivery struct {
	ID    uint64
	Batch *Batch
	Err   error
}

// CallOption makes a call's batch-carrying messages (Msg, Delivery) go
// through Codec: the option the host's plugin clients give their calls.
func CallOption() grpc.CallOption { return grpc.ForceCodecV2(Codec{}) }

// Transform sends b through a transformer plugin's Transform over conn, as
// bytes both ways (Codec): what the agent does with each batch a sink's
// transformer takes. A batch the plugin returns that Parse refuses is an
// error wrapping ErrMalformed (the call itself succeeded); any other error
// is the call's, as gRPC returned it.
func Transform(ctx context.Context, conn grpc.ClientConnInterface, b *Batch) (*Batch, error) {
	var out Msg
	if err := conn.Invoke(ctx, pb.Transformer_Transform_FullMethodName, &Msg{Batch: b}, &out, CallOption()); err != nil {
		return nil, err
	}
	if out.Err != nil {
		return nil, out.Err
	}
	return out.Batch, nil
}

// Codec is a gRPC codec (content subtype "proto") that moves Msg and
// Delivery values as bytes and everything else through the proto codec.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name is the content subtype: the bytes are ordinary protobuf.
func (Codec) Name() string { return proto.Name }

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2(proto.Name) }

// Marshal encodes v.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*Msg)
	if !ok {
		return protoCodec().Marshal(v)
	}
	data := m.Batch.Bytes()
	hdr := protowire.AppendTag(make([]byte, 0, 12), 1, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(len(data)))
	if len(data) == 0 {
		return mem.BufferSlice{mem.SliceBuffer(hdr)}, nil
	}
	// The batch's bytes are shared, not copied: a Batch is immutable.
	return mem.BufferSlice{mem.SliceBuffer(hdr), mem.SliceBuffer(data)}, nil
}

// Unmarshal decodes data into v.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *Msg:
		parts, _, err := fields(data.Materialize(), 1, 0)
		if err != nil {
			return err
		}
		m.Batch, m.Err = parseParts(parts)
		return nil
	case *Delivery:
		parts, id, err := fields(data.Materialize(), 2, 1)
		if err != nil {
			return err
		}
		m.ID = id
		m.Batch, m.Err = nil, nil
		if len(parts) > 0 {
			m.Batch, m.Err = parseParts(parts)
		}
		return nil
	default:
		return protoCodec().Unmarshal(data, v)
	}
}

// fields splits a message into the occurrences of its batch field and the
// value of its uint64 id field (0: none); other fields are skipped.
func fields(data []byte, batchField, idField protowire.Number) (parts [][]byte, id uint64, err error) {
	for off := 0; off < len(data); {
		num, typ, n := consumeTag(data[off:])
		if n < 0 {
			return nil, 0, malformed("message", off, protowire.ParseError(n))
		}
		off += n
		var m int
		switch {
		case num == batchField && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(data[off:])
			parts = append(parts, v)
		case idField != 0 && num == idField && typ == protowire.VarintType:
			id, m = protowire.ConsumeVarint(data[off:])
		case num == batchField || (idField != 0 && num == idField):
			return nil, 0, malformed("message", off, fmt.Errorf("field %d has wire type %d", num, typ))
		default:
			m = protowire.ConsumeFieldValue(num, typ, data[off:])
		}
		if m < 0 {
			return nil, 0, malformed("message", off, protowire.ParseError(m))
		}
		off += m
	}
	return parts, id, nil
}

// parseParts parses a batch field; several occurrences merge, which for a
// message of repeated fields is their concatenation.
func parseParts(parts [][]byte) (*Batch, error) {
	switch len(parts) {
	case 0:
		return &Batch{}, nil
	case 1:
		return Parse(parts[0])
	}
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	return Parse(all)
}
