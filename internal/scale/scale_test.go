package scale

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// cpuSample is a libvirt cpu sample as the pollster makes it: metadata
// values are strings.
func cpuSample() *sample.Sample {
	return &sample.Sample{
		Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: 3e9, ResourceID: "r1", ProjectID: "p1", UserID: "u1",
		Source: "openstack", MessageID: "m1", Timestamp: time.Date(2015, 10, 29, 14, 12, 15, 485877000, time.UTC),
		Metadata: map[string]string{
			"cpu_number": "4", "flavor.vcpus": "2", "state": "active", "zero": "0", "empty": "",
			"user_metadata.autoscaling_weight": "1.1", "weird": " 1_000 ", "text": "abc",
		},
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src  string
		want float64
	}{
		// Ceilometer's own expressions (pipeline.yaml and its tests).
		{"100.0 / (10**9 * (resource_metadata.cpu_number or 1))", 100.0 / 4e9},
		{"(resource_metadata.user_metadata.autoscaling_weight or 1.0) * (resource_metadata.non.existent or 1.0) * (100.0 / (10**9 * (resource_metadata.cpu_number or 1)))", 1.1 * 100.0 / 4e9},
		{"volume / ((10**6) * 60)", 50},
		{"(volume * 1.8) + 32", 3e9*1.8 + 32},
		// The operators Python has and expr-lang had differently.
		{"volume // 1024", 2929687},
		{"7 // 2", 3}, {"-7 // 2", -4}, {"7 // -2", -4}, {"7.5 // 2", 3}, {"-7.5 // 2", -4},
		{"7 % 3", 1}, {"-7 % 3", 2}, {"7 % -3", -2}, {"-7.5 % 2", 0.5}, {"5.5 % -2", -0.5},
		{"2 ** 10", 1024}, {"2 ** -1", 0.5}, {"-2 ** 2", -4}, {"(-2) ** 2", 4}, {"2 ** 3 ** 2", 512}, {"4 ** 0.5", 2},
		{"0 ** 0", 1}, {"1_000 + 0x10 + 0o10 + 0b10 + .5 + 1e3", 1000 + 16 + 8 + 2 + 0.5 + 1000},
		{"7 / 2", 3.5}, {"1 - 2 - 3", -4}, {"2 * 3 + 4 * 5", 26}, {"-(3)", -3}, {"+-+3", -3}, {"--3", 3},
		// Operand-returning and/or, not, conditionals, comparisons.
		{"resource_metadata.cpu_number or 1", 4}, {"resource_metadata.missing or 1", 1},
		{"resource_metadata.zero or 7", 7}, {"resource_metadata.empty or 7", 7}, {"resource_metadata.text and 5", 5},
		{"0 or 0.0 or 3", 3}, {"2 and 3", 3}, {"0 and 3", 0}, {"None or 5", 5}, {"'' or 6", 6},
		{"not 0", 1}, {"not resource_metadata.text", 0}, {"not resource_metadata.missing", 1},
		{"volume if name == 'cpu' else 0", 3e9}, {"1 if resource_metadata.state == \"active\" else 2", 1},
		{"1 if 0 else 2 if 0 else 3", 3},
		{"0 < volume <= 3e9", 1}, {"1 < 3 > 2", 1}, {"1 < 2 < 1", 0}, {"resource_metadata.cpu_number == 4", 1},
		{"resource_metadata.cpu_number == '4'", 1}, {"resource_metadata.cpu_number > 3.5", 1},
		{"'abc' < 'abd'", 1}, {"type == 'cumulative'", 1}, {"unit != 'ns'", 0}, {"3 == '3'", 0}, {"None == None", 1},
		{"resource_metadata.missing == None", 0}, {"monotonic_time == None", 1}, {"True + True", 2},
		// Metadata by subscript and dotted keys; strings that parse as numbers.
		{"volume * float(resource_metadata[\"flavor.vcpus\"])", 6e9}, {"metadata.flavor.vcpus * 2", 4},
		{"resource_metadata.flavor['vcpus'] * 1", 2}, {"resource_metadata.weird + 0", 1000},
		// Built-ins.
		{"abs(-3)", 3}, {"min(3, 1, 2)", 1}, {"max(1, resource_metadata.cpu_number)", 4}, {"round(2.5)", 2},
		{"round(3.5)", 4}, {"round(-2.5)", -2}, {"round(0.125, 2)", 0.12}, {"round(1234.5, -2)", 1200}, {"round(2.675, 2)", 2.67},
		{"int(3.9)", 3}, {"int(-3.9)", -3}, {"int(' 42 ')", 42}, {"float('1e3')", 1000}, {"float(True)", 1}, {"bool('x')", 1},
		{"int(resource_metadata.cpu_number) // 3", 1},
		// Comments and whitespace, adjacent string literals.
		{"volume # the volume\n / 1e9", 3}, {"'a' 'b' == 'ab'", 1},
	}
	s := cpuSample()
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(tc.src)
			require.NoError(t, err)
			got, err := c.Eval(s)
			require.NoError(t, err)
			require.InDelta(t, tc.want, got, math.Abs(tc.want)*1e-15)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src, want string // want: the Error() text's start
	}{
		{"", "column 1: empty expression"},
		{"volume +", "column 9: unexpected end of expression"},
		{"volume +* 2", "column 9: unexpected \"*\""},
		{"vcpus * 2", "column 1: unknown name vcpus"},
		{"volume * name", "column 8: unsupported operand types for *: float and str"},
		{"name", "column 1: the expression gives a str, not a number"},
		{"name + unit", "column 6: strings cannot be combined with +"},
		{"1 / 0", "column 3: division by zero"},
		{"volume // 0.0 + 1 // 0", "column 19: floor division by zero"},
		{"2 % 0", "column 3: modulo by zero"},
		{"0 ** -1", "column 3: 0.0 cannot be raised to a negative power"},
		{"(-8) ** (1/3)", "column 6: a negative number cannot be raised to a fractional power"},
		{"10.0 ** 400", "column 6: numerical result out of range"},
		{"volume << 2", "column 8: \"<<\": bit shifts are not supported"},
		{"volume ^ 2", "column 8: \"^\": bitwise operators are not supported (Python's power is **)"},
		{"volume ? 1 : 2", "column 8: \"?\": Python's conditional is a if cond else b"},
		{"volume && 1", "column 8: \"&&\": Python's conjunction is and"},
		{"volume = 1", "column 8: \"=\": assignment is not supported"},
		{"1 if volume", "column 12: expected else"},
		{"volume in 3", "column 8: \"in\" is not supported"},
		{"volume is None", "column 8: \"is\" is not supported"},
		{"len(name)", "column 1: unknown function len"},
		{"min(1)", "column 1: min takes two or more arguments, not 1"},
		{"round(1, 2, 3)", "column 1: round takes one or two arguments, not 3"},
		{"float(x=1)", "column 8: \"=\": assignment is not supported"},
		{"abs", "column 1: abs is a function"},
		{"volume.real", "column 7: this value has no attributes"},
		{"volume[0]", "column 7: only resource_metadata can be subscripted"},
		{"resource_metadata", "column 1: resource_metadata needs a key"},
		{"resource_metadata[x]", "column 19: a resource_metadata subscript must be a string literal"},
		{"volume(1)", "column 1: unknown function volume"},
		{"(volume)(1)", "column 9: only the built-in functions"},
		{"$(memory)", "column 1: meter references such as $(memory) are only for the arithmetic transformer"},
		{"(1, 2)", "column 3: tuples are not supported"},
		{"[1]", "column 1: lists are not supported"},
		{"lambda: 1", "column 7: \":\": slices, lambdas and dict displays are not supported"},
		{"lambda x", "column 1: lambda is not supported"},
		{"1j", "column 1: complex numbers are not supported"},
		{"007", "column 1: leading zeros"},
		{"1__0", "column 1: invalid number literal"},
		{"1e999", "column 1: number literal \"1e999\" is out of range"},
		{"f'x'", "column 1: string prefixes (f'...') are not supported"},
		{"'abc", "column 1: unterminated string literal"},
		{"'''a'''", "column 1: triple-quoted strings are not supported"},
		{"volume $ 2", "column 8: $ must start a meter reference"},
		{"volume + `", "column 10: unexpected character '`'"},
		{"volume\n  + foo", "line 2, column 5: unknown name foo"},
		{"é + volume", "column 1: unexpected character 'é'"},
		{"1 + é", "column 5: unexpected character 'é'"},
		{"'a' < 1", "column 5: '<' not supported between str and float"},
		{"-name", "column 1: bad operand type for unary -: str"},
		{"max(1, 'a')", "column 1: max() cannot order values of kinds float or str"},
		{"abs('a')", "column 1: abs() argument 1 must be a number, not str"},
		{"int('3.5')", "column 1: invalid literal for int() with base 10: \"3.5\""},
		{"float('x')", "column 1: could not convert string to float: \"x\""},
		{"(" + strings.Repeat("(", maxDepth) + "1" + strings.Repeat(")", maxDepth+1), "column 65: expression nests deeper than 64 levels"},
		{strings.Repeat("-", 100) + "1", "column 64: expression nests deeper than 64 levels"},
		{strings.Repeat("1+", 200) + "1", "expression has more than 128 operations in a row"},
		{strings.Repeat("1 ", MaxLen), "column 1: expression is longer than 4096 bytes"},
		{strings.Repeat("(1)+", 600) + "1", "expression has more than"},
	}
	for _, tc := range cases {
		t.Run(tc.src[:min(len(tc.src), 40)], func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.src)
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce), "%T", err)
			require.Contains(t, err.Error(), tc.want)
			require.GreaterOrEqual(t, ce.Column, 1)
		})
	}
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		{"volume / 0", "column 8: division by zero"},
		{"volume / (volume - volume)", "column 8: division by zero"},
		{"volume // (resource_metadata.zero)", "column 8: floor division by zero"},
		{"resource_metadata.text * 2", "column 24: unsupported operand for *: resource_metadata.text is \"abc\", not a number"},
		{"resource_metadata.missing * 2", "column 27: unsupported operand for *: resource_metadata.missing is missing"},
		{"2 * resource_metadata.empty", "unsupported operand for *: resource_metadata.empty is \"\", not a number"},
		{"resource_metadata.text", "column 1: the expression gave resource_metadata.text is \"abc\", not a number"},
		{"resource_metadata.missing", "the expression gave resource_metadata.missing is missing, not a number"},
		{"resource_metadata.text < 1", "column 24: '<' not supported between the metadata value \"abc\" and the number 1"},
		{"float(resource_metadata.text)", "could not convert string to float: \"abc\""},
		{"monotonic_time + 1", "unsupported operand for +: monotonic_time is None"},
		{"volume * 1e308 * 10", "the expression gave +Inf, not a finite number"},
		{"float('nan') * volume", "the expression gave NaN, not a finite number"},
		{"(-volume) ** 0.5", "a negative number cannot be raised to a fractional power"},
	}
	s := cpuSample()
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(tc.src)
			require.NoError(t, err)
			_, err = c.Eval(s)
			var ee *EvalError
			require.True(t, errors.As(err, &ee), "%v", err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	s := cpuSample()
	s.MonotonicTime = 1500 * time.Millisecond
	cases := map[string]float64{
		"name == 'cpu' and type == 'cumulative' and unit == 'ns' and resource_id == 'r1'":                      1,
		"project_id == 'p1' and user_id == 'u1' and source == 'openstack' and id == 'm1' and message_id == id": 1,
		"timestamp == '2015-10-29T14:12:15.485877+00:00'":                                                      1,
		"monotonic_time * 2": 3,
	}
	for src, want := range cases {
		c, err := Compile(src)
		require.NoError(t, err, src)
		got, err := c.Eval(s)
		require.NoError(t, err, src)
		require.Equal(t, want, got, src)
	}
}

func TestMeters(t *testing.T) {
	t.Parallel()
	mem := &sample.Sample{Name: "memory", Volume: 1024, Metadata: map[string]string{"host": "h"}}
	usage := &sample.Sample{Name: "memory.usage", Volume: 512}
	cases := []struct {
		src  string
		refs []string
		want float64
		err  string
	}{
		{src: "100.0 * $(memory.usage) / $(memory)", refs: []string{"memory.usage", "memory"}, want: 50},
		{src: "$(memory.usage).volume / $(memory).volume", refs: []string{"memory.usage", "memory"}, want: 0.5},
		{src: "$(memory) * 0 + (1 if $(memory).resource_metadata.host == 'h' else 2)", refs: []string{"memory"}, want: 1},
		{src: "$(memory.usage) + $(memory.usage)", refs: []string{"memory.usage"}, want: 1024},
		{src: "$(memory) / ($(memory.usage) - 512)", refs: []string{"memory", "memory.usage"}, err: "division by zero"},
		{src: "float('nan') * $(memory.usage) / $(memory)", refs: []string{"memory.usage", "memory"}, err: "NaN"},
	}
	byName := map[string]*sample.Sample{"memory": mem, "memory.usage": usage}
	for _, tc := range cases {
		c, err := CompileMeters(tc.src)
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.refs, c.Refs(), tc.src)
		ss := make([]*sample.Sample, len(c.Refs()))
		for i, r := range c.Refs() {
			ss[i] = byName[r]
		}
		got, err := c.EvalRefs(ss)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.src)
			continue
		}
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.want, got, tc.src)
	}
	for src, want := range map[string]string{
		"512.0 * 3":                   "must read at least one meter",
		"volume * $(memory)":          "column 1: unknown name volume: the arithmetic transformer's expression reads meters",
		"$(memory).nope":              "column 11: a meter has the fields",
		"$(memory).resource_metadata": "column 1: $(memory).resource_metadata needs a key",
		"$(memory":                    "column 1: a meter reference is",
		"$()":                         "column 1: a meter reference is",
	} {
		_, err := CompileMeters(src)
		require.ErrorContains(t, err, want, src)
	}
	// A missing operand sample is an error, not a crash.
	c, err := CompileMeters("$(a) + $(b)")
	require.NoError(t, err)
	_, err = c.EvalRefs([]*sample.Sample{mem, nil})
	require.ErrorContains(t, err, "no sample for $(b)")
}

// TestNoAllocs holds the hot path to its promise: evaluating allocates
// nothing, metadata lookups and errors-free paths included.
func TestNoAllocs(t *testing.T) {
	s := cpuSample()
	for _, src := range []string{
		"100.0 / (10**9 * (resource_metadata.cpu_number or 1))",
		"volume // 1024 + volume % 7 - 2 ** 0.5",
		"min(volume, 100) if name == 'cpu' and 0 < volume <= 1e12 else abs(-volume)",
		"round(volume / 3, 2) + float(resource_metadata[\"flavor.vcpus\"]) + int(resource_metadata.cpu_number)",
	} {
		c, err := Compile(src)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := c.Eval(s); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, src)
	}
}

func TestFolding(t *testing.T) {
	t.Parallel()
	c, err := Compile("100.0 / (10**9 * (resource_metadata.cpu_number or 1))")
	require.NoError(t, err)
	consts := 0
	for _, n := range c.nodes {
		if n.op == opConst {
			consts++
		}
	}
	// 100.0, 10**9 folded to one constant, 1; the folded 10 and 9 remain
	// in the slice but are no longer reachable.
	root := c.nodes[c.root]
	require.Equal(t, opDiv, root.op)
	require.Equal(t, opConst, c.nodes[c.nodes[root.y].x].op)
	require.Equal(t, 1e9, c.nodes[c.nodes[root.y].x].val.n)
	require.GreaterOrEqual(t, consts, 3)
}

func TestParseFloat(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]float64{"4": 4, " 1.5 ": 1.5, "-2e3": -2000, "1_000": 1000, "+inf": math.Inf(1), "Infinity": math.Inf(1), "1e999": math.Inf(1)} {
		f, ok := parseFloat(s)
		require.True(t, ok, s)
		require.Equal(t, want, f, s)
	}
	for _, s := range []string{"", "abc", "0x10", "1__0", "_1", "1_", "1.2.3", "e5", "--1", "1p3"} {
		_, ok := parseFloat(s)
		require.False(t, ok, s)
	}
	f, ok := parseFloat("nan")
	require.True(t, ok)
	require.True(t, math.IsNaN(f))
}

// MetaKeys lists every key an expression may read, once: a sample whose
// map holds only those keys evaluates as the sample with all its metadata.
func TestMetaKeys(t *testing.T) {
	t.Parallel()
	for src, want := range map[string][]string{
		"volume * 2": nil,
		"100.0 / (10**9 * (resource_metadata.cpu_number or 1))":                                     {"cpu_number"},
		"resource_metadata.a + metadata['b.c'] * resource_metadata.a if resource_metadata.d else 0": {"a", "b.c", "d"},
	} {
		s, err := Compile(src)
		require.NoError(t, err, src)
		require.ElementsMatch(t, want, s.MetaKeys(), src)
	}
	s, err := Compile("(resource_metadata.w or 1.0) * float(resource_metadata.n)")
	require.NoError(t, err)
	full := &sample.Sample{Metadata: map[string]string{"w": "2", "n": "3", "other": "x", "more": "y"}}
	only := &sample.Sample{Metadata: map[string]string{}}
	for _, k := range s.MetaKeys() {
		if v, ok := full.Metadata[k]; ok {
			only.Metadata[k] = v
		}
	}
	a, err := s.Eval(full)
	require.NoError(t, err)
	b, err := s.Eval(only)
	require.NoError(t, err)
	require.Equal(t, a, b)
}
