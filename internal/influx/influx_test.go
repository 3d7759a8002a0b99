package influx_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/sdk/sample"
)

var fixedNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func opts(p time.Duration) influx.Options {
	return influx.Options{Precision: p, Now: func() time.Time { return fixedNow }}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	ts := time.Unix(1700000000, 0).UTC()
	tests := []struct {
		name    string
		in      string
		prec    time.Duration
		want    []sample.Sample
		wantErr int
	}{
		{
			name: "value field and reserved tags",
			in:   "cpu,resource_id=r1,project_id=p,user_id=u,source=s,unit=%,type=cumulative,host=h1 value=1.5 1700000000000000000\n",
			want: []sample.Sample{{
				Name: "cpu", Volume: 1.5, ResourceID: "r1", ProjectID: "p", UserID: "u", Source: "s", Unit: "%",
				Type: sample.Cumulative, Timestamp: ts, Metadata: map[string]string{"host": "h1"},
			}},
		},
		{
			name: "several fields of every kind",
			in:   "disk,resource_id=vda read=1i,written=2u,ratio=0.5,up=true,down=false,label=\"x\" 1700000000",
			prec: time.Second,
			want: []sample.Sample{
				{Name: "disk.read", Volume: 1, ResourceID: "vda", Type: sample.Gauge, Timestamp: ts},
				{Name: "disk.written", Volume: 2, ResourceID: "vda", Type: sample.Gauge, Timestamp: ts},
				{Name: "disk.ratio", Volume: 0.5, ResourceID: "vda", Type: sample.Gauge, Timestamp: ts},
				{Name: "disk.up", Volume: 1, ResourceID: "vda", Type: sample.Gauge, Timestamp: ts},
				{Name: "disk.down", Volume: 0, ResourceID: "vda", Type: sample.Gauge, Timestamp: ts},
			},
		},
		{
			name: "missing timestamp is now",
			in:   "mem value=3i",
			want: []sample.Sample{{Name: "mem", Volume: 3, Type: sample.Gauge, Timestamp: fixedNow}},
		},
		{
			name: "milliseconds",
			in:   "mem value=3i 1700000000123",
			prec: time.Millisecond,
			want: []sample.Sample{{Name: "mem", Volume: 3, Type: sample.Gauge, Timestamp: ts.Add(123 * time.Millisecond)}},
		},
		{
			name: "escapes, comments and blank lines",
			in:   "# comment\n\nmy\\ meter,host=a\\,b\\=c value=1 1\r\n",
			want: []sample.Sample{{Name: "my meter", Volume: 1, Type: sample.Gauge, Timestamp: time.Unix(0, 1).UTC(), Metadata: map[string]string{"host": "a,b=c"}}},
		},
		{
			name:    "bad lines skipped, good ones kept",
			in:      "a value=1 1\nbroken line\nb,type=weird value=2 2\nc value=3 3\nd value=zz 4\ne value=1 notatime\n",
			wantErr: 4,
			want: []sample.Sample{
				{Name: "a", Volume: 1, Type: sample.Gauge, Timestamp: time.Unix(0, 1).UTC()},
				{Name: "c", Volume: 3, Type: sample.Gauge, Timestamp: time.Unix(0, 3).UTC()},
			},
		},
		{
			name: "only string fields give nothing",
			in:   "log msg=\"hi\" 1",
		},
		{
			name:    "bad field after good field drops the line",
			in:      "x a=1,b=nope 1",
			wantErr: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, errs := influx.Decode([]byte(tc.in), opts(tc.prec))
			require.Len(t, errs, tc.wantErr, "errors: %v", errs)
			for _, err := range errs {
				var le *influx.LineError
				require.True(t, errors.As(err, &le))
			}
			require.Empty(t, cmp.Diff(tc.want, got, cmpopts.EquateEmpty()))
		})
	}
}

func TestDecodeBadPrecision(t *testing.T) {
	t.Parallel()
	_, errs := influx.Decode([]byte("a value=1"), influx.Options{Precision: time.Minute})
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], influx.ErrPrecision)
}

func TestParsePrecision(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": time.Nanosecond, "ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "ms": time.Millisecond, "s": time.Second} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := influx.ParsePrecision(in)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
	_, err := influx.ParsePrecision("h")
	require.Error(t, err)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	tests := []struct {
		name string
		in   sample.Sample
		want *sample.Sample // nil: same as in
	}{
		{name: "full", in: sample.Sample{
			Name: "cpu.util", Type: sample.Delta, Unit: "%", Volume: 12.25, ResourceID: "r 1,=x", ProjectID: "p",
			UserID: "u", Source: "openstack", Timestamp: ts,
			Metadata: map[string]string{"flavor.name": "m1.small", "host": "h=1, 2", "zz": "last", "a": "first"},
		}},
		{name: "minimal", in: sample.Sample{Name: "x", Type: sample.Gauge, Volume: -1e-300, Timestamp: ts}},
		{name: "huge volume", in: sample.Sample{Name: "x", Type: sample.Cumulative, Volume: math.MaxFloat64, Timestamp: ts}},
		{
			name: "lossy parts dropped",
			in: sample.Sample{
				Name: "x", Volume: 1, Timestamp: ts, MessageID: "m", Signature: "sig", MonotonicTime: time.Second,
				Metadata: map[string]string{"empty": "", "unit": "collides", "nl": "a\nb", "bs": `end\`},
			},
			want: &sample.Sample{Name: "x", Type: sample.Gauge, Volume: 1, Timestamp: ts},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := influx.Encode(nil, &tc.in)
			require.NotEmpty(t, line)
			require.Equal(t, byte('\n'), line[len(line)-1])
			got, errs := influx.Decode(line, opts(0))
			require.Empty(t, errs, "line %q", line)
			want := tc.in
			if tc.want != nil {
				want = *tc.want
			}
			require.Empty(t, cmp.Diff([]sample.Sample{want}, got), "line %q", line)
		})
	}
}

func TestEncodeUnencodable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    sample.Sample
	}{
		{"empty name", sample.Sample{Volume: 1}},
		{"comment name", sample.Sample{Name: "#x", Volume: 1}},
		{"control char", sample.Sample{Name: "a\nb", Volume: 1}},
		{"nan", sample.Sample{Name: "a", Volume: math.NaN()}},
		{"inf", sample.Sample{Name: "a", Volume: math.Inf(-1)}},
		{"timestamp out of range", sample.Sample{Name: "a", Volume: 1, Timestamp: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("keep\n")
			require.Equal(t, "keep\n", string(influx.Encode(prefix, &tc.s)))
		})
	}
}

func TestEncoderReuse(t *testing.T) {
	t.Parallel()
	var e influx.Encoder
	var buf []byte
	for i := range 3 {
		buf = e.Append(buf, &sample.Sample{Name: "m", Volume: float64(i), Timestamp: time.Unix(0, int64(i+1)), Metadata: map[string]string{"b": "2", "a": "1"}})
	}
	require.Equal(t, "m,a=1,b=2 value=0 1\nm,a=1,b=2 value=1 2\nm,a=1,b=2 value=2 3\n", string(buf))
	got, errs := influx.Decode(buf, opts(0))
	require.Empty(t, errs)
	require.Len(t, got, 3)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"cpu,resource_id=r1,type=delta value=1.5 1700000000000000000\n",
		"disk read=1i,written=2u,up=true,s=\"x\" 1\nbad\n",
		"a\\ b,c\\,d=e\\=f value=-1e300\n# c\n\n",
		"x,type=nope value=1",
		"m value=1 99999999999999999999",
	} {
		f.Add([]byte(s), uint8(0))
	}
	precs := []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, time.Second}
	f.Fuzz(func(t *testing.T, data []byte, p uint8) {
		got, errs := influx.Decode(data, opts(precs[int(p)%len(precs)]))
		for _, err := range errs {
			var le *influx.LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a LineError", err)
			}
		}
		// Whatever decodes must encode and decode again to the same samples.
		var e influx.Encoder
		for i := range got {
			s := got[i]
			if math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
				t.Fatalf("decoded non-finite volume %v", s.Volume)
			}
			line := e.Append(nil, &s)
			if len(line) == 0 {
				continue // e.g. a name starting with '#' after unescaping
			}
			back, errs := influx.Decode(line, opts(0))
			if len(errs) != 0 || len(back) != 1 {
				t.Fatalf("re-decode of %q: %v (%d samples)", line, errs, len(back))
			}
			if back[0].Name != s.Name || back[0].Volume != s.Volume || !back[0].Timestamp.Equal(s.Timestamp) {
				t.Fatalf("round trip of %+v gave %+v via %q", s, back[0], line)
			}
		}
	})
}
