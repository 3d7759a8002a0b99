package influx

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/altimeter/altimeter/sdk/sample"
)

var refNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// pool is the strings the differential tests build samples and lines of:
// every ASCII byte alone and inside text (so every escapable and every
// control character), unicode, invalid UTF-8, backslashes, empty.
func pool() []string {
	p := []string{
		"", "a", "cpu.util", "#x", "x#", "é", "日本語", "a\u00a0b", "\u2028", "\xff", "a\xffb", "\xe2\x82",
		`\`, `a\`, `a\b`, `a\ b`, `a\,b`, `\\`, "a=b,c d", " ", ",", "=", "  ", "a  b", "value", "type",
		"unit", "resource_id", "host", "zz", "A", "~", "\U0001F600", "a\"b", "'",
	}
	for c := range 128 {
		p = append(p, string(rune(c)), "a"+string(rune(c))+"b", string(rune(c))+"x")
	}
	return p
}

func checkEncode(t *testing.T, s *sample.Sample) {
	t.Helper()
	var e Encoder
	for _, prefix := range [][]byte{nil, []byte("keep\n"), make([]byte, 3, 512)} {
		want := refAppend(bytes.Clone(prefix), s)
		got := e.Append(bytes.Clone(prefix), s)
		if !bytes.Equal(got, want) {
			t.Fatalf("Append(%q, %#v)\n got %q\nwant %q", prefix, s, got, want)
		}
	}
}

func TestEncodeMatchesReference(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	times := []time.Time{
		{}, ts, time.Unix(0, 0), time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64),
		time.Unix(0, math.MinInt64).Add(-1), time.Unix(0, math.MaxInt64).Add(1), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	vols := []float64{0, math.Copysign(0, -1), 1, -1.5, 1e21, 1e-7, 123456789012345678, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)}
	for _, s := range pool() {
		for _, smp := range []sample.Sample{
			{Name: s, Volume: 1, Timestamp: ts},
			{Name: "m", Volume: 1, Timestamp: ts, ResourceID: s, ProjectID: s, UserID: s, Source: s, Unit: s},
			{Name: "m", Volume: 1, Type: sample.Delta, Metadata: map[string]string{s: "v", "k": s}},
			{Name: "m", Volume: 1, Metadata: map[string]string{"unit": s, "type": s, s + "x": s, "x" + s: "y"}},
		} {
			checkEncode(t, &smp)
		}
	}
	for _, tm := range times {
		for _, v := range vols {
			for typ := range sample.Type(5) {
				checkEncode(t, &sample.Sample{Name: "m", Volume: v, Timestamp: tm, Type: typ, Unit: "B"})
			}
		}
	}
	// Random samples over the pool: metadata keys around the reserved ones.
	p := pool()
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return p[r.IntN(len(p))] }
	for range 20000 {
		s := sample.Sample{
			Name: pick(), Volume: vols[r.IntN(len(vols))], Timestamp: times[r.IntN(len(times))],
			Type: sample.Type(r.IntN(4)), ResourceID: pick(), ProjectID: pick(), UserID: pick(), Source: pick(), Unit: pick(),
		}
		if r.IntN(3) > 0 {
			s.Name = "m"
		}
		if n := r.IntN(6); n > 0 {
			s.Metadata = make(map[string]string, n)
			for range n {
				s.Metadata[pick()] = pick()
			}
		}
		checkEncode(t, &s)
	}
}

func FuzzEncodeMatchesReference(f *testing.F) {
	f.Add("cpu", "host", "h 1,=x", "r", "%", 1.5, int64(1700000000000000000), uint8(1), false)
	f.Add("a b,c", "k=", `v\`, "", "", math.Copysign(0, -1), int64(0), uint8(0), true)
	f.Fuzz(func(t *testing.T, name, k, v, rid, unit string, vol float64, ns int64, typ uint8, zero bool) {
		s := sample.Sample{
			Name: name, Volume: vol, ResourceID: rid, Unit: unit, Type: sample.Type(typ % 5),
			Timestamp: time.Unix(0, ns), Metadata: map[string]string{k: v, v: k, "unit": v},
		}
		if zero {
			s.Timestamp = time.Time{}
		}
		checkEncode(t, &s)
	})
}

// checkDecode decodes data with AppendDecode and with the reference and
// wants the same samples and errors; the samples must not change when data
// is overwritten afterwards.
func checkDecode(t *testing.T, data []byte, prec time.Duration) {
	t.Helper()
	opts := Options{Precision: prec, Now: func() time.Time { return refNow }}
	want, wantErrs := refDecode(data, opts)
	in := bytes.Clone(data)
	got, gotErrs := AppendDecode(make([]sample.Sample, 0, 1), in, opts)
	for i := range in {
		in[i] = 'X'
	}
	if !sameSamples(want, got) {
		t.Fatalf("decode of %q (-ref +got):\n%s", data, cmp.Diff(want, got, cmpopts.EquateEmpty()))
	}
	if w, g := fmt.Sprint(wantErrs), fmt.Sprint(gotErrs); w != g {
		t.Fatalf("decode of %q: errors\n got %s\nwant %s", data, g, w)
	}
}

// sameSamples is a quick cmp.Equal for samples.
func sameSamples(a, b []sample.Sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Name != y.Name || x.Type != y.Type || x.Unit != y.Unit || x.Volume != y.Volume ||
			x.ResourceID != y.ResourceID || x.ProjectID != y.ProjectID || x.UserID != y.UserID ||
			x.Source != y.Source || x.Timestamp != y.Timestamp || x.MessageID != y.MessageID ||
			x.MonotonicTime != y.MonotonicTime || x.Signature != y.Signature || !maps.Equal(x.Metadata, y.Metadata) {
			return false
		}
	}
	return true
}

// decodeLines are lines the differential decode test strings together:
// series that repeat, differ in one tag, in their tag count or order,
// with bad type tags after good ones, several fields, and broken lines.
var decodeLines = []string{
	"cpu,host=h1,resource_id=r1,unit=% value=1 1",
	"cpu,host=h1,resource_id=r1,unit=% value=2 2",
	"cpu,host=h1,resource_id=r1,unit=% value=3",
	"mem,host=h1,resource_id=r1,unit=% value=3 3",
	"cpu,host=h2,resource_id=r1,unit=% value=4 4",
	"cpu,host=h1,resource_id=r2,unit=% value=5 5",
	"cpu,host=h1,resource_id=r1 value=6 6",
	"cpu,host=h1,resource_id=r1,unit=%,zz=1 value=7 7",
	"cpu,resource_id=r1,host=h1,unit=% value=8 8",
	"cpu,host=h1,resource_id=r1,type=delta value=9 9",
	"cpu,host=h1,resource_id=r1,type=weird value=10 10",
	"cpu,host=h1,resource_id=r1,type=delta,type=weird value=10 10",
	"cpu,host=h1,resource_id=r1,type=cumulative,type=gauge value=10 10",
	"cpu,host=h1,resource_id=r1,type=delta,host=h3 value=11 11",
	"cpu,host=h1,resource_id=r1,unit=%,bro ken value=12 12",
	"cpu,host=h1,resource_id=r1,unit=% value=bad 13",
	"cpu,host=h1,resource_id=r1,unit=% value=1 notatime",
	"disk,host=h1 read=1i,written=2u,ratio=0.5,up=true,label=\"x\",value=3 14",
	"disk,host=h1 written=2u,read=1i 15",
	"disk.x,host=h1 read=1i 16",
	"disk,host=h1 label=\"only\" 17",
	"my\\ meter,h\\ o\\,st=a\\,b\\=c value=1 18",
	"my\\ meter,h\\ o\\,st=a\\,b\\=c value=1 19",
	"m,project_id=p,user_id=u,source=s,unit=B value=1",
	"m,project_id=p,user_id=u,source=s,unit=B,host=é value=1",
	"m value=1",
	"m,a=1,a=2 value=1",
	"# comment",
	"",
	"broken",
}

func TestDecodeMatchesReference(t *testing.T) {
	t.Parallel()
	for _, l := range decodeLines {
		checkDecode(t, []byte(l), 0)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var b []byte
		for range 1 + r.IntN(40) {
			l := decodeLines[r.IntN(len(decodeLines))]
			for range r.IntN(3) { // series repeat
				b = append(b, l...)
				b = append(b, '\n')
			}
			b = append(b, l...)
			b = append(b, '\n')
		}
		checkDecode(t, b, 0)
	}
	// Lines the encoder writes of pool strings, consecutive ones sharing
	// a prefix of their tags.
	var b []byte
	p := pool()
	for i, s := range p {
		b = refAppend(b, &sample.Sample{Name: "m", Volume: 1, ResourceID: "r", Metadata: map[string]string{"a": "1", "k": s}})
		b = refAppend(b, &sample.Sample{Name: "m", Volume: 1, ResourceID: "r", Metadata: map[string]string{"a": "1", "k": s, s: s}})
		b = refAppend(b, &sample.Sample{Name: s, Volume: float64(i), Unit: s, Type: sample.Delta})
	}
	checkDecode(t, b, 0)
}

func FuzzDecodeMatchesReference(f *testing.F) {
	for _, l := range decodeLines {
		f.Add([]byte(l+"\n"+l+"\n"), uint8(0))
	}
	f.Add([]byte(strings.Join(decodeLines, "\n")), uint8(3))
	precs := []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, time.Second}
	f.Fuzz(func(t *testing.T, data []byte, p uint8) {
		checkDecode(t, data, precs[int(p)%len(precs)])
	})
}

// A batch of lines of one series costs a few allocations in all, not some
// per line: the lines share their strings and metadata.
func TestDecodeSharesRepeatedSeries(t *testing.T) {
	var b []byte
	for i := range 100 {
		b = fmt.Appendf(b, "cpu.util,host=h1,project_id=p,resource_id=r1,unit=%% value=%d %d\n", i, i+1)
	}
	dst := make([]sample.Sample, 0, 100)
	opts := Options{Precision: time.Nanosecond, Now: func() time.Time { return refNow }}
	allocs := testing.AllocsPerRun(20, func() {
		got, errs := AppendDecode(dst[:0], b, opts)
		if len(got) != 100 || len(errs) != 0 {
			t.Fatalf("decoded %d samples, errors %v", len(got), errs)
		}
	})
	if allocs > 20 {
		t.Fatalf("%v allocations to decode 100 lines of one series, want at most 20", allocs)
	}
	got, _ := AppendDecode(nil, b, opts)
	if got[0].Metadata["host"] != "h1" || got[99].Metadata["host"] != "h1" {
		t.Fatalf("metadata %v, %v", got[0].Metadata, got[99].Metadata)
	}
}
