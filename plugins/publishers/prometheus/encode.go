package main

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/internal/metric"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Remote write 1.0 (prometheus/prompb): field numbers of the messages
// written, encoded by hand so the plugin needs no Prometheus module.
const (
	fWriteTimeseries = 1 // WriteRequest.timeseries
	fWriteMetadata   = 3 // WriteRequest.metadata
	fSeriesLabels    = 1 // TimeSeries.labels
	fSeriesSamples   = 2 // TimeSeries.samples
	fLabelName       = 1
	fLabelValue      = 2
	fSampleValue     = 1
	fSampleTimestamp = 2
	fMetaType        = 1 // MetricMetadata.type
	fMetaFamily      = 2 // MetricMetadata.metric_family_name
	fMetaHelp        = 4
	fMetaUnit        = 5
	metaCounter      = 1 // MetricMetadata.MetricType COUNTER
	metaGauge        = 2 // GAUGE
	metaUnknown      = 0
)

// series is one time series of a request: its labels and the indexes (in
// the batch) of its samples, in timestamp order.
type series struct {
	labels  []metric.Label
	samples []int
}

// group sorts the samples idx of b into series by their labels.
func group(m *metric.Mapping, b []sample.Sample, idx []int) []*series {
	byKey := map[string]*series{}
	var out []*series
	var key strings.Builder
	for _, i := range idx {
		s := &b[i]
		ls := m.Labels(nil, &metric.Series{Meter: s.Name, Type: s.Type.String(), Unit: s.Unit,
			ResourceID: s.ResourceID, ProjectID: s.ProjectID, UserID: s.UserID, Metadata: s.Metadata})
		key.Reset()
		for _, l := range ls {
			key.WriteString(l.Name)
			key.WriteByte(0)
			key.WriteString(l.Value)
			key.WriteByte(0)
		}
		k := key.String()
		se, ok := byKey[k]
		if !ok {
			se = &series{labels: ls}
			byKey[k] = se
			out = append(out, se)
		}
		se.samples = append(se.samples, i)
	}
	for _, se := range out {
		slices.SortStableFunc(se.samples, func(x, y int) int {
			return cmp.Compare(b[x].Timestamp.UnixMilli(), b[y].Timestamp.UnixMilli())
		})
	}
	return out
}

// encodeRequest appends the WriteRequest of ss (and, if withMeta, one
// MetricMetadata per metric family) to dst.
func encodeRequest(dst []byte, b []sample.Sample, ss []*series, withMeta bool) []byte {
	var buf []byte
	for _, se := range ss {
		buf = buf[:0]
		for _, l := range se.labels {
			var lb []byte
			lb = protowire.AppendTag(lb, fLabelName, protowire.BytesType)
			lb = protowire.AppendString(lb, l.Name)
			lb = protowire.AppendTag(lb, fLabelValue, protowire.BytesType)
			lb = protowire.AppendString(lb, l.Value)
			buf = protowire.AppendTag(buf, fSeriesLabels, protowire.BytesType)
			buf = protowire.AppendBytes(buf, lb)
		}
		for _, i := range se.samples {
			var sb []byte
			sb = protowire.AppendTag(sb, fSampleValue, protowire.Fixed64Type)
			sb = protowire.AppendFixed64(sb, math.Float64bits(b[i].Volume))
			sb = protowire.AppendTag(sb, fSampleTimestamp, protowire.VarintType)
			sb = protowire.AppendVarint(sb, uint64(b[i].Timestamp.UnixMilli())) //nolint:gosec // two's complement, as protobuf int64
			buf = protowire.AppendTag(buf, fSeriesSamples, protowire.BytesType)
			buf = protowire.AppendBytes(buf, sb)
		}
		dst = protowire.AppendTag(dst, fWriteTimeseries, protowire.BytesType)
		dst = protowire.AppendBytes(dst, buf)
	}
	if withMeta {
		seen := map[string]bool{}
		for _, se := range ss {
			s := &b[se.samples[0]]
			family := metric.Name(s.Name)
			if seen[family] {
				continue
			}
			seen[family] = true
			typ := uint64(metaUnknown)
			switch metric.PromType(s.Type.String()) {
			case "counter":
				typ = metaCounter
			case "gauge":
				typ = metaGauge
			}
			buf = buf[:0]
			buf = protowire.AppendTag(buf, fMetaType, protowire.VarintType)
			buf = protowire.AppendVarint(buf, typ)
			buf = protowire.AppendTag(buf, fMetaFamily, protowire.BytesType)
			buf = protowire.AppendString(buf, family)
			buf = protowire.AppendTag(buf, fMetaHelp, protowire.BytesType)
			buf = protowire.AppendString(buf, "Altimeter meter "+s.Name)
			buf = protowire.AppendTag(buf, fMetaUnit, protowire.BytesType)
			buf = protowire.AppendString(buf, s.Unit)
			dst = protowire.AppendTag(dst, fWriteMetadata, protowire.BytesType)
			dst = protowire.AppendBytes(dst, buf)
		}
	}
	return dst
}
