package scale

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// exprEnv is what internal/scale gave expr-lang expressions before this
// language replaced it: the baseline of BenchmarkEval.
type exprEnv struct {
	Volume   float64           `expr:"volume"`
	Name     string            `expr:"name"`
	Metadata map[string]string `expr:"metadata"`
}

// BenchmarkEval times one evaluation of the same expressions in this
// language and in expr-lang (the package's previous engine, with its VM and
// environment reused as it did): the measurement behind writing a parser
// rather than configuring expr, besides the semantics (expr has no //,
// its or gives a bool).
//
//	go test -run '^$' -bench Eval -benchmem ./internal/scale/
func BenchmarkEval(b *testing.B) {
	cases := []struct{ name, py, expr string }{
		{"cpu_util", "100.0 / (10**9 * (resource_metadata.cpu_number or 1))", `100.0 / (10**9 * float(metadata["cpu_number"] ?? 1))`},
		{"divide", "volume / 1024", "volume / 1024"},
		{"conditional", "volume / 1e9 * 100 if name == 'cpu' else volume", `name == "cpu" ? volume / 1e9 * 100 : volume`},
	}
	s := &sample.Sample{Name: "cpu", Volume: 3e9, Metadata: map[string]string{"cpu_number": "4", "host": "h1", "flavor.name": "m1.small"}}
	for _, tc := range cases {
		py, err := Compile(tc.py)
		require.NoError(b, err)
		prog, err := expr.Compile(tc.expr, expr.Env(exprEnv{}), expr.AsFloat64())
		require.NoError(b, err)
		want, err := py.Eval(s)
		require.NoError(b, err)
		var machine vm.VM
		env := &exprEnv{}
		runExpr := func() float64 {
			*env = exprEnv{Volume: s.Volume, Name: s.Name, Metadata: s.Metadata}
			v, err := machine.Run(prog, env)
			if err != nil {
				b.Fatal(err)
			}
			return v.(float64)
		}
		require.InDelta(b, want, runExpr(), 1e-12, "both engines compute the same")
		b.Run(tc.name+"/python", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := py.Eval(s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/expr", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				runExpr()
			}
		})
	}
}
