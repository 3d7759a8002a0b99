package scale

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

func TestScale(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src string
		in        sample.Sample
		want      float64
		compile   bool // want a compile error
	}{
		{name: "divide", src: "volume / 1024", in: sample.Sample{Volume: 2048}, want: 2},
		{name: "metadata", src: `volume * float(metadata["vcpus"])`, in: sample.Sample{Volume: 3, Metadata: map[string]string{"vcpus": "4"}}, want: 12},
		{name: "not a number", src: `name`, compile: true},
		{name: "syntax", src: `volume +`, compile: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Compile(tc.src)
			if tc.compile {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			got, err := s.Eval(&tc.in)
			require.NoError(t, err)
			require.InDelta(t, tc.want, got, 1e-9)
		})
	}
}
