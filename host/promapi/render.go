package promapi

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/altimeter/altimeter/host/store/series"
)

type storageKey = series.Key

// writeJSON writes the body fn builds; warnings and infos, when any, are
// added to the top-level object as Prometheus does.
func writeJSON(c *gin.Context, code int, fn func([]byte) []byte, warnings, infos []string) {
	b := fn(make([]byte, 0, 4096))
	if len(warnings) > 0 || len(infos) > 0 {
		b = b[:len(b)-1] // drop the closing brace
		if len(warnings) > 0 {
			b = append(b, `,"warnings":`...)
			b = appendStrings(b, warnings)
		}
		if len(infos) > 0 {
			b = append(b, `,"infos":`...)
			b = appendStrings(b, infos)
		}
		b = append(b, '}')
	}
	c.Data(code, "application/json", b)
}

func writeStrings(c *gin.Context, ss []string) {
	writeJSON(c, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"status":"success","data":`...)
		b = appendStrings(b, ss)
		return append(b, '}')
	}, nil, nil)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, l.Name)
		b = append(b, ':')
		b = appendString(b, l.Value)
	})
	return append(b, '}')
}

// appendFloat writes a sample value as Prometheus does: a string, with
// +Inf, -Inf and NaN spelled out.
func appendFloat(b []byte, f float64) []byte {
	b = append(b, '"')
	switch {
	case math.IsInf(f, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(f, -1):
		b = append(b, "-Inf"...)
	case math.IsNaN(f):
		b = append(b, "NaN"...)
	default:
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return append(b, '"')
}

// appendPoint writes [unix seconds, "value"].
func appendPoint(b []byte, t int64, f float64) []byte {
	b = append(b, '[')
	b = strconv.AppendFloat(b, float64(t)/1000, 'f', -1, 64)
	b = append(b, ',')
	b = appendFloat(b, f)
	return append(b, ']')
}

// appendValue writes {"resultType": ..., "result": ...}.
func appendValue(b []byte, v parser.Value) []byte {
	b = append(b, `{"resultType":`...)
	b = appendString(b, string(v.Type()))
	b = append(b, `,"result":`...)
	switch r := v.(type) {
	case promql.Matrix:
		b = append(b, '[')
		for i, s := range r {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Metric)
			b = append(b, `,"values":[`...)
			for j, p := range s.Floats {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendPoint(b, p.T, p.F)
			}
			b = append(b, "]}"...)
		}
		b = append(b, ']')
	case promql.Vector:
		b = append(b, '[')
		for i, s := range r {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Metric)
			b = append(b, `,"value":`...)
			b = appendPoint(b, s.T, s.F)
			b = append(b, '}')
		}
		b = append(b, ']')
	case promql.Scalar:
		b = appendPoint(b, r.T, r.V)
	case promql.String:
		b = append(b, '[')
		b = strconv.AppendFloat(b, float64(r.T)/1000, 'f', -1, 64)
		b = append(b, ',')
		b = appendString(b, r.V)
		b = append(b, ']')
	default:
		b = append(b, "null"...)
	}
	return append(b, '}')
}

func sortStrings(ss []string) { sort.Strings(ss) }

func sortMeta[T any](ms []T, key func(T) string) {
	sort.Slice(ms, func(i, j int) bool { return key(ms[i]) < key(ms[j]) })
}
