package sdk_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// TestNoHostImports enforces that the SDK never depends on the host or the
// plugins: plugin authors import only sdk/.
func TestNoHostImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/altimeter/altimeter/") && !strings.HasPrefix(pkg, "github.com/altimeter/altimeter/sdk") {
			t.Errorf("sdk depends on %s", pkg)
		}
	}
}

type pollCfg struct {
	Prefix  string            `hcl:"prefix"`
	Window  string            `hcl:"window,optional"`
	Count   *int              `hcl:"count,optional"`
	Labels  map[string]string `hcl:"labels,optional"`
	Targets []target          `hcl:"target,block"`
}

type target struct {
	Name string `hcl:"name,label"`
	URL  string `hcl:"url"`
}

type poller struct{ c pollCfg }

func (p *poller) Poll(_ context.Context, req pollster.Request) ([]sample.Sample, error) {
	var out []sample.Sample
	var errs []error
	for _, m := range req.Meters {
		if m == "bad" {
			errs = append(errs, &pollster.ResourceError{ResourceID: "r1", Meter: m, Err: errors.New("boom")})
			continue
		}
		for _, tg := range p.c.Targets {
			out = append(out, sample.Sample{Name: p.c.Prefix + m, Type: sample.Gauge, Volume: 1, ResourceID: tg.Name + "@" + tg.URL,
				Timestamp: time.Unix(10, 0).UTC(), Metadata: p.c.Labels})
		}
	}
	return out, errors.Join(errs...)
}

var pollSpec = pollster.Spec[pollCfg]{
	Name:     "toy",
	Version:  "1.0.0",
	Meters:   []sample.MeterInfo{{Name: "x", Type: sample.Gauge, Unit: "B"}},
	Defaults: pollCfg{Window: "1m"},
	New: func(c pollCfg, _ hclog.Logger) (pollster.Pollster, error) {
		if _, err := time.ParseDuration(c.Window); err != nil {
			return nil, schema.AttrError("window", `must be a duration such as "1m"`)
		}
		return &poller{c: c}, nil
	},
}

func TestPollsterOverGRPC(t *testing.T) {
	t.Parallel()
	c := sdktest.Pollster(t, pollSpec, `
prefix = "p."
labels = { a = "b" }
target "one" { url = "u1" }
target "two" { url = "u2" }
`)
	info, err := c.Describe(t.Context())
	require.NoError(t, err)
	require.Equal(t, base.Pollster, info.Kind)
	require.Equal(t, "x", info.Meters[0].Name)
	res, err := c.Poll(t.Context(), pollster.Request{Meters: []string{"x", "bad"}})
	require.NoError(t, err)
	require.Len(t, res.Samples, 2)
	require.Equal(t, "p.x", res.Samples[0].Name)
	require.Equal(t, "one@u1", res.Samples[0].ResourceID)
	require.Equal(t, map[string]string{"a": "b"}, res.Samples[1].Metadata)
	require.Len(t, res.Errors, 1)
	require.Equal(t, "bad", res.Errors[0].Meter)
}

func TestConfigDiagnostics(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, src, want string }{
		{"unknown attribute", "prefix = \"a\"\nbogus = 1\n", `config.hcl:2,1-6: Unsupported argument`},
		{"wrong type", "prefix = \"a\"\ncount = \"many\"\n", `config.hcl:2,9-15: Incorrect attribute value type`},
		{"missing required", "window = \"1m\"\n", `Missing required argument`},
		{"constructor error", "prefix = \"a\"\nwindow = \"soon\"\n", `config.hcl:2,10-16: Invalid value for window`},
		{"block label missing", "prefix = \"a\"\ntarget { url = \"x\" }\n", `config.hcl:2,8-9: Missing name for target`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := sdktest.Start(t, pollSpec.Info(), pollSpec.Register())
			diags := p.Configure(t, tc.src)
			require.True(t, diags.HasErrors())
			require.Contains(t, diags.Error(), tc.want)
		})
	}
}

type echoListener struct{ n int }

func (l *echoListener) Listen(ctx context.Context, emit listener.Emit) error {
	for i := range l.n {
		err := emit(ctx, sample.Batch{Samples: []sample.Sample{{Name: "m", Volume: float64(i)}}})
		switch {
		case err == nil:
		case errors.Is(err, listener.ErrRejected):
		default:
			return err
		}
	}
	<-ctx.Done()
	return nil
}

func TestListenerAcks(t *testing.T) {
	t.Parallel()
	spec := listener.Spec[struct{}]{Name: "echo", MaxInFlight: 2,
		New: func(struct{}, hclog.Logger) (listener.Listener, error) { return &echoListener{n: 10}, nil }}
	c := sdktest.Listener(t, spec, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := c.Listen(ctx)
	require.NoError(t, err)
	var got []float64
	for len(got) < 10 {
		id, b, err := s.Recv()
		require.NoError(t, err)
		got = append(got, b.Samples[0].Volume)
		o := base.Accepted
		if id%2 == 0 {
			o = base.Rejected
		}
		require.NoError(t, s.Ack(id, o, "test"))
	}
	require.Len(t, got, 10)
}

type failing struct{ err error }

func (f *failing) Publish(context.Context, *sample.Batch) error { return f.err }

func TestPublisherOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		err   error
		want  base.Outcome
		items int
	}{
		{"accepted", nil, base.Accepted, 0},
		{"retry by default", errors.New("down"), base.Retry, 0},
		{"rejected", publisher.Reject(errors.New("bad")), base.Rejected, 0},
		{"per item", publisher.RejectItems(map[int]error{1: errors.New("x")}), base.Accepted, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := publisher.Spec[struct{}]{Name: "f",
				New: func(struct{}, hclog.Logger) (publisher.Publisher, error) { return &failing{err: tc.err}, nil }}
			c := sdktest.Publisher(t, spec, "")
			r, err := c.Publish(t.Context(), &sample.Batch{Samples: make([]sample.Sample, 3)})
			require.NoError(t, err)
			require.Equal(t, tc.want, r.Outcome)
			require.Len(t, r.Items, tc.items)
		})
	}
}
