package transformer_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
	"github.com/altimeter/altimeter/sdk/transformer"
	"github.com/altimeter/altimeter/sdk/wire"
)

type config struct{}

// renamer renames every sample to "renamed" and counts its calls.
type renamer struct{ transforms int }

func (r *renamer) Transform(_ context.Context, in []sample.Sample) ([]sample.Sample, error) {
	r.transforms++
	for i := range in {
		in[i].Name = "renamed"
	}
	return in, nil
}

// rawRenamer is renamer with TransformRaw, which renames to "raw" (so the
// test sees which path ran) through package wire's helpers.
type rawRenamer struct {
	renamer
	raws int
	view wire.BatchView
}

func (r *rawRenamer) TransformRaw(_ context.Context, in, out []byte) ([]byte, error) {
	r.raws++
	if err := r.view.Parse(in); err != nil {
		return out, err
	}
	for i := range r.view.Samples {
		v := &r.view.Samples[i]
		d := v.Sample
		d.Name = "raw"
		var err error
		if out, err = wire.AppendDerived(out, v, &d); err != nil {
			return out, err
		}
	}
	return append(out, r.view.Events...), nil
}

func spec(impl transformer.Transformer) transformer.Spec[config] {
	return transformer.Spec[config]{
		Name: "test", Version: "0.0.1",
		New: func(config, hclog.Logger) (transformer.Transformer, error) { return impl, nil },
	}
}

func batch() *sample.Batch {
	return &sample.Batch{
		Samples: []sample.Sample{
			{Name: "a", Volume: 1, ResourceID: "r", Timestamp: time.Unix(10, 0).UTC(), Metadata: map[string]string{"k": "v"}},
			{Name: "b", Volume: 2, ResourceID: "r", Timestamp: time.Unix(11, 0).UTC()},
		},
		Events: []sample.Event{{MessageID: "e", EventType: "x.y", Generated: time.Unix(12, 0).UTC(), Traits: []sample.Trait{{Name: "t", Type: sample.TraitInt, Int: 1}}}},
	}
}

// The server calls TransformRaw for a RawTransformer, Transform for any
// other transformer; both give the samples and pass the events.
func TestTransformPaths(t *testing.T) {
	t.Parallel()
	raw, dec := &rawRenamer{}, &renamer{}
	for name, tc := range map[string]struct {
		impl       transformer.Transformer
		wantName   string
		transforms *int
		raws       *int
	}{
		"raw":     {impl: raw, wantName: "raw", transforms: &raw.transforms, raws: &raw.raws},
		"decoded": {impl: dec, wantName: "renamed", transforms: &dec.transforms},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := sdktest.Transformer(t, spec(tc.impl), "")
			for range 3 { // pooled buffers reused
				out, err := c.Transform(t.Context(), batch())
				require.NoError(t, err)
				want := batch()
				for i := range want.Samples {
					want.Samples[i].Name = tc.wantName
				}
				require.Equal(t, want.Samples, out.Samples)
				require.Equal(t, want.Events, out.Events)
			}
			if tc.raws != nil {
				require.Equal(t, 3, *tc.raws)
				require.Zero(t, *tc.transforms)
			} else {
				require.Equal(t, 3, *tc.transforms)
			}
		})
	}
}

// rawCodec sends the test's requests as the bytes given (what a client
// that does not encode, the host's, may send) and keeps the answers'.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// A malformed batch is refused by the raw path as by the decode path.
func TestTransformRawRefusesMalformed(t *testing.T) {
	t.Parallel()
	good, err := wire.AppendBatch(nil, batch())
	require.NoError(t, err)
	bad := append(good, 0x0a, 0x03, 0x0a, 0x01, 0xff) // a sample whose name is not UTF-8
	req := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), bad)
	for name, impl := range map[string]transformer.Transformer{"raw": &rawRenamer{}, "decoded": &renamer{}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := spec(impl)
			p := sdktest.Start(t, s.Info(), s.Register())
			require.False(t, p.Configure(t, "").HasErrors())
			var resp []byte
			err := p.Conn.Invoke(t.Context(), pb.Transformer_Transform_FullMethodName, &req, &resp, grpc.ForceCodecV2(rawCodec{}))
			require.Equal(t, codes.Internal, status.Code(err), "%v", err)
			require.Contains(t, err.Error(), wire.ErrMalformed.Error())
		})
	}
}
