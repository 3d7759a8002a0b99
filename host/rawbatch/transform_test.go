package rawbatch

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
	"github.com/altimeter/altimeter/sdk/transformer"
)

type noConfig struct{}

// echo answers each batch with reply(in), as bytes.
type echo struct{ reply func(in []byte) []byte }

func (echo) Transform(_ context.Context, in []sample.Sample) ([]sample.Sample, error) { return in, nil }

func (e echo) TransformRaw(_ context.Context, in, out []byte) ([]byte, error) {
	return append(out, e.reply(in)...), nil
}

func startEcho(t *testing.T, reply func([]byte) []byte) *sdktest.Plugin {
	s := transformer.Spec[noConfig]{Name: "echo", Version: "0.0.1",
		New: func(noConfig, hclog.Logger) (transformer.Transformer, error) { return echo{reply: reply}, nil }}
	p := sdktest.Start(t, s.Info(), s.Register())
	require.False(t, p.Configure(t, "").HasErrors())
	return p
}

// Transform sends a batch as bytes and parses the answer; an answer Parse
// refuses is ErrMalformed, a failed call is the call's error.
func TestTransform(t *testing.T) {
	t.Parallel()
	b, err := FromProto(sampleBatch())
	require.NoError(t, err)

	p := startEcho(t, func(in []byte) []byte { return in })
	out, err := Transform(t.Context(), p.Conn, b)
	require.NoError(t, err)
	require.Equal(t, b.Bytes(), out.Bytes(), "the plugin echoed the bytes sent")
	require.Equal(t, [2]int{2, 1}, [2]int{out.Samples(), out.Events()})

	bad := startEcho(t, func([]byte) []byte { return []byte{0x0a, 0x03, 0x0a, 0x01, 0xff} })
	_, err = Transform(t.Context(), bad.Conn, b)
	require.ErrorIs(t, err, ErrMalformed)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = Transform(ctx, p.Conn, b)
	require.Equal(t, codes.Canceled, status.Code(err))
	require.NotErrorIs(t, err, ErrMalformed)
}
