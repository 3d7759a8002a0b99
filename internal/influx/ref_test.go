package influx

// The encoder and decoder as they were before their fast paths, kept as
// the reference the fast paths are checked against: Encoder.Append must
// write the same bytes as refAppend, AppendDecode the same samples and
// errors as refDecode.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/altimeter/altimeter/sdk/sample"
)

func refAppend(dst []byte, s *sample.Sample) []byte {
	if !validKey(s.Name) || s.Name[0] == '#' || math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
		return dst
	}
	val, _ := lineprotocol.FloatValue(s.Volume)
	var tags []tag
	add := func(k, v string) {
		if validKey(v) {
			tags = append(tags, tag{k, v})
		}
	}
	add(TagResourceID, s.ResourceID)
	add(TagProjectID, s.ProjectID)
	add(TagUserID, s.UserID)
	add(TagSource, s.Source)
	add(TagUnit, s.Unit)
	if s.Type != sample.TypeUnspecified {
		add(TagType, s.Type.String())
	}
	for k, v := range s.Metadata {
		if !IsReservedTag(k) && validKey(k) {
			add(k, v)
		}
	}
	slices.SortFunc(tags, func(a, b tag) int { return strings.Compare(a.k, b.k) })
	var lp lineprotocol.Encoder
	lp.SetLax(true)
	lp.SetBuffer(dst)
	lp.StartLine(s.Name)
	for _, t := range tags {
		lp.AddTag(t.k, t.v)
	}
	lp.AddField(ValueField, val)
	lp.EndLine(s.Timestamp)
	out := lp.Bytes()
	if lp.Err() != nil {
		out = out[:len(dst)]
	}
	return out
}

func refDecode(data []byte, opts Options) ([]sample.Sample, []error) {
	prec, err := lpPrecision(opts.Precision)
	if err != nil {
		return nil, []error{err}
	}
	var (
		dst   []sample.Sample
		errs  []error
		entry int
		now   = opts.Now()
	)
	dec := lineprotocol.NewDecoderWithBytes(data)
	for dec.Next() {
		entry++
		start := len(dst)
		dst, err = refDecodeLine(dec, dst, prec, now)
		if err != nil {
			clear(dst[start:])
			dst = dst[:start]
			errs = append(errs, &LineError{Entry: entry, Err: err})
		}
	}
	return dst, errs
}

func refDecodeLine(dec *lineprotocol.Decoder, dst []sample.Sample, prec lineprotocol.Precision, now time.Time) ([]sample.Sample, error) {
	m, err := dec.Measurement()
	if err != nil {
		return dst, err
	}
	name := string(m)
	base := sample.Sample{Type: sample.Gauge}
	var meta map[string]string
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return dst, err
		}
		if k == nil {
			break
		}
		switch string(k) {
		case TagResourceID:
			base.ResourceID = string(v)
		case TagProjectID:
			base.ProjectID = string(v)
		case TagUserID:
			base.UserID = string(v)
		case TagSource:
			base.Source = string(v)
		case TagUnit:
			base.Unit = string(v)
		case TagType:
			t, err := sample.ParseType(string(v))
			if err != nil {
				return dst, fmt.Errorf("tag type: %w", err)
			}
			base.Type = t
		default:
			if meta == nil {
				meta = make(map[string]string, 4)
			}
			meta[string(k)] = string(v)
		}
	}
	start := len(dst)
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return dst, err
		}
		if k == nil {
			break
		}
		var vol float64
		switch v.Kind() {
		case lineprotocol.Int:
			vol = float64(v.IntV())
		case lineprotocol.Uint:
			vol = float64(v.UintV())
		case lineprotocol.Float:
			vol = v.FloatV()
		case lineprotocol.Bool:
			if v.BoolV() {
				vol = 1
			}
		default:
			continue
		}
		s := base
		if string(k) == ValueField {
			s.Name = name
		} else {
			s.Name = name + "." + string(k)
		}
		s.Volume = vol
		dst = append(dst, s)
	}
	ts, err := dec.Time(prec, now)
	if err != nil {
		return dst, err
	}
	ts = ts.UTC()
	for i := start; i < len(dst); i++ {
		dst[i].Timestamp = ts
		if meta != nil {
			dst[i].Metadata = maps.Clone(meta)
		}
	}
	return dst, nil
}

// validKey mirrors what line protocol can carry as a measurement, key or tag
// value: non-empty UTF-8 without control characters or a trailing backslash.
func validKey(s string) bool {
	if s == "" || s[len(s)-1] == '\\' || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
