package scale

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// oracleScript evaluates one JSON request per line with CPython's eval(),
// as Ceilometer did, and answers {"v": repr} for a number or bool, {"e":
// exception class} for an error, {"o": type} for any other result. With
// "ns", names resolve in Ceilometer's Namespace (missing attributes are an
// empty, false Namespace). int() and round() return floats, so that Python
// computes in floats as this package does (its ints are float64).
const oracleScript = `
import builtins, collections, io, json, sys, tokenize

class Namespace(object):
    def __init__(self, seed):
        self.__dict__ = collections.defaultdict(lambda: Namespace({}))
        self.__dict__.update(seed)
        for k, v in self.__dict__.items():
            if isinstance(v, dict):
                self.__dict__[k] = Namespace(v)
    def __getattr__(self, attr):
        return self.__dict__[attr]
    def __getitem__(self, key):
        return self.__dict__[key]
    def __bool__(self):
        return len(self.__dict__) > 0

g = {"int": lambda x: float(builtins.int(x)),
     "round": lambda x, n=None: float(builtins.round(x)) if n is None else builtins.round(x, n),
     "abs": abs, "min": min, "max": max, "float": float, "bool": bool}

class Env(Namespace):
    # Ceilometer's Namespace also answered for built-in names (with an
    # empty Namespace), so its expressions could call no function; this
    # language offers these.
    def __getitem__(self, key):
        return g[key] if key in g else Namespace.__getitem__(self, key)

class S(str):
    # This language's strings compare and test true or false, but do not
    # concatenate, repeat or format (a volume is a number).
    def _no(self, *a):
        raise TypeError("string arithmetic")
    __add__ = __radd__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _no
g["S"] = S

def strings_as_S(src):
    toks = []
    for t in tokenize.generate_tokens(io.StringIO(src).readline):
        if t.type == tokenize.STRING:
            toks.extend([(tokenize.NAME, "S"), (tokenize.OP, "("), (t.type, t.string), (tokenize.OP, ")")])
        else:
            toks.append((t.type, t.string))
    return tokenize.untokenize(toks)

for line in sys.stdin:
    req = json.loads(line)
    try:
        env = Env(req["ns"]) if "ns" in req else {}
        r = eval(strings_as_S(req["src"]), dict(g), env)
        if isinstance(r, (bool, int, float)):
            out = {"v": repr(float(r))}
        else:
            out = {"o": type(r).__name__}
    except Exception as e:
        out = {"e": type(e).__name__}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
`

type oracle struct {
	in  *json.Encoder
	out *bufio.Scanner
}

type oracleAnswer struct {
	V string `json:"v"` // the number, as repr()
	E string `json:"e"` // the exception class
	O string `json:"o"` // the type of a result that is not a number
}

func startOracle(t *testing.T) *oracle {
	t.Helper()
	if testing.Short() {
		t.Skip("runs python3; run without -short")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Fatalf("the language is checked against CPython: %v (install python3)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, py, "-c", oracleScript)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
		cancel()
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &oracle{in: json.NewEncoder(stdin), out: sc}
}

func (o *oracle) eval(t *testing.T, src string, ns map[string]any) oracleAnswer {
	t.Helper()
	req := map[string]any{"src": src}
	if ns != nil {
		req["ns"] = ns
	}
	require.NoError(t, o.in.Encode(req))
	require.True(t, o.out.Scan(), "python3 ended: %v", o.out.Err())
	var a oracleAnswer
	require.NoError(t, json.Unmarshal(o.out.Bytes(), &a))
	return a
}

// check compares this package's answer for src with Python's: the same
// float bit for bit, or an error where Python raised or gave a result that
// is not a finite number.
func (o *oracle) check(t *testing.T, src string, ns map[string]any, s *sample.Sample) {
	t.Helper()
	want := o.eval(t, src, ns)
	got, err := func() (float64, error) {
		c, err := Compile(src)
		if err != nil {
			return 0, err
		}
		return c.Eval(s)
	}()
	if want.V == "" {
		require.Error(t, err, "%s: Python gives %+v, this package %v", src, want, got)
		return
	}
	f, perr := strconv.ParseFloat(want.V, 64)
	if strings.Contains(want.V, "nan") || strings.Contains(want.V, "inf") {
		f, perr = math.NaN(), nil
	}
	require.NoError(t, perr)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		require.Error(t, err, "%s: Python gives %s, which is not a volume", src, want.V)
		return
	}
	require.NoError(t, err, "%s: Python gives %s", src, want.V)
	if strings.Contains(src, "**") && f != 0 {
		// Go's math.Pow is not correctly rounded, the C library's pow
		// CPython calls is: they may differ in the last bits, more so for
		// large operands with a fractional exponent.
		require.InEpsilon(t, f, got, 1e-13, "%s: Python gives %s, this package %v", src, want.V, got)
		return
	}
	if f == 0 && got == 0 {
		return // Python's int 0 is never negative; a float 0 here may be -0.0
	}
	require.Equal(t, math.Float64bits(f), math.Float64bits(got), "%s: Python gives %s, this package %v", src, want.V, got)
}

// TestPythonOracle checks the language against CPython (Debian's
// /usr/bin/python3): random expressions over the operators, built-ins,
// strings, booleans, None, nan and inf must give Python's float or fail
// where Python fails; and Ceilometer's metadata expressions, with typed
// metadata in Ceilometer's Namespace on Python's side and the same values
// as strings on ours, must agree.
func TestPythonOracle(t *testing.T) {
	t.Parallel()
	o := startOracle(t)
	rng := rand.New(rand.NewPCG(12, 2018)) // fixed: the same expressions every run
	g := &exprGen{rng: rng}
	const n = 4000
	for range n {
		o.check(t, g.expr(0), nil, &sample.Sample{})
	}

	// Ceilometer's metadata: typed on Python's side, strings on ours.
	md := map[string]string{"cpu_number": "4", "zero": "0", "text": "abc", "half": "0.5", "user_metadata.autoscaling_weight": "1.1", "empty": ""}
	ns := map[string]any{"resource_metadata": map[string]any{
		"cpu_number": 4, "zero": 0, "text": "abc", "half": 0.5, "user_metadata": map[string]any{"autoscaling_weight": 1.1}, "empty": "",
	}, "volume": 3e9, "name": "cpu"}
	s := &sample.Sample{Volume: 3e9, Name: "cpu", Metadata: md}
	for _, src := range []string{
		"100.0 / (10**9 * (resource_metadata.cpu_number or 1))",
		"100.0 / (10**9 * (resource_metadata.missing or 1))",
		"100.0 / (10**9 * (resource_metadata.zero or 1))",
		"(resource_metadata.user_metadata.autoscaling_weight or 1.0) * (resource_metadata.non.existent or 1.0) * (100.0 / (10**9 * (resource_metadata.cpu_number or 1)))",
		"volume * resource_metadata.half", "volume // resource_metadata.cpu_number", "volume % resource_metadata.cpu_number",
		"resource_metadata.cpu_number ** 2", "-resource_metadata.half", "resource_metadata.zero and 5", "not resource_metadata.text",
		"resource_metadata.empty or 2", "1 if resource_metadata.text == 'abc' else 2", "resource_metadata.cpu_number > 3",
		"resource_metadata.text * 2.0", "resource_metadata.missing * 2", "resource_metadata.missing + 1",
		"abs(-resource_metadata.cpu_number)", "max(resource_metadata.cpu_number, resource_metadata.half)",
		"float(resource_metadata.cpu_number) / 3", "volume / resource_metadata.zero", "1 if name == 'cpu' else 0",
	} {
		o.check(t, src, ns, s)
	}
}

// exprGen writes random, syntactically valid expressions. Numbers are float
// literals, and exponents small, so Python's results are the float64 ones.
type exprGen struct{ rng *rand.Rand }

var oracleAtoms = []string{
	"0.0", "1.0", "2.0", "3.0", "7.0", "10.0", "1024.0", "0.5", "2.5", "3.25", "1e3", "1e-3", "1e308",
	"True", "False", "None", "''", "'a'", "'b'", "'3'", "float('nan')", "float('inf')", "float('-inf')",
	"float('3.5')", "float(' 2 ')", "float('x')", "int('7')", "int('3.5')", "int(' 42 ')",
}

var oracleBinary = []string{"+", "-", "*", "/", "//", "%", "+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"}

func (g *exprGen) expr(depth int) string {
	if depth >= 4 || g.rng.IntN(10) < 3 {
		a := oracleAtoms[g.rng.IntN(len(oracleAtoms))]
		if g.rng.IntN(4) == 0 && a[0] >= '0' && a[0] <= '9' {
			return "-" + a
		}
		return a
	}
	x := func() string { return g.expr(depth + 1) }
	switch g.rng.IntN(14) {
	case 0:
		return "-" + x()
	case 1:
		return "not " + x()
	case 2:
		return "(" + x() + ")"
	case 3:
		// Python makes a negative number to a fractional power complex;
		// here that is an error (TestEvalErrors), so fractional
		// exponents get a base that is not negative.
		if g.rng.IntN(2) == 0 {
			exps := []string{"0.5", "(1/3)", "-0.5", "2.5"}
			return "abs(" + x() + ") ** " + exps[g.rng.IntN(len(exps))]
		}
		exps := []string{"0.0", "1.0", "2.0", "3.0", "-1.0", "-2.0"}
		return "(" + x() + ") ** " + exps[g.rng.IntN(len(exps))]
	case 4:
		return x() + " if " + x() + " else " + x()
	case 5:
		return x() + " < " + x() + " <= " + x()
	case 6:
		fns := []string{"abs", "float", "int", "round", "bool"}
		return fns[g.rng.IntN(len(fns))] + "(" + x() + ")"
	case 7:
		return "round(" + x() + ", " + strconv.Itoa(g.rng.IntN(5)-1) + ")"
	case 8:
		fns := []string{"min", "max"}
		return fmt.Sprintf("%s(%s, %s)", fns[g.rng.IntN(2)], x(), x())
	}
	return x() + " " + oracleBinary[g.rng.IntN(len(oracleBinary))] + " " + x()
}
