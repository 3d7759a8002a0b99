package scale

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/altimeter/altimeter/sdk/sample"
)

// FuzzCompile feeds arbitrary sources to both compilers and evaluates what
// compiles: nothing may panic or hang, errors must be the package's types
// with a position inside the source, and a value must be finite.
//
//	go test -run '^$' -fuzz FuzzCompile -fuzztime 60s ./internal/scale/
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"100.0 / (10**9 * (resource_metadata.cpu_number or 1))",
		"volume // 1024", "-2 ** -2 % 3", "1 if volume < 2 <= 3 else round(volume, 2)",
		"min(abs(volume), float(resource_metadata['a.b']), int('7'))", "not name == 'cpu' and type != 'gauge'",
		"$(memory.usage) / $(memory) * 100", "$(a).resource_metadata.x or $(b).volume",
		"0x1_0 + 0o7 + 0b1 + 1_0.5e-3", "'a' 'b' < \"c\"", "# comment\nvolume", "(((((1)))))",
		"volume ** 0.5 // 0", "1 / 0 if volume else 2", "monotonic_time or timestamp == id",
	} {
		f.Add(s)
	}
	smp := &sample.Sample{Name: "cpu", Volume: 7, Type: sample.Cumulative, Metadata: map[string]string{"cpu_number": "2", "a.b": "x", "x": "1e3"}}
	f.Fuzz(func(t *testing.T, src string) {
		for _, meters := range []bool{false, true} {
			c, err := compile(src, meters)
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("%q: error %T %v", src, err, err)
				}
				if ce.Offset < 0 || ce.Offset > len(src) || ce.Column < 1 || ce.Line < 1 {
					t.Fatalf("%q: error position %+v outside the source", src, ce)
				}
				if utf8.ValidString(src) && ce.Column > utf8.RuneCountInString(src)+1 {
					t.Fatalf("%q: column %d past the end", src, ce.Column)
				}
				continue
			}
			ss := make([]*sample.Sample, len(c.Refs()))
			for i := range ss {
				ss[i] = smp
			}
			if !meters {
				ss = []*sample.Sample{smp}
			}
			v, err := c.EvalRefs(ss)
			if err != nil {
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("%q: eval error %T %v", src, err, err)
				}
				continue
			}
			if v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308 {
				t.Fatalf("%q gave %v", src, v)
			}
		}
	})
}
