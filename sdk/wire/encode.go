package wire

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/altimeter/altimeter/sdk/sample"
)

// sizeString is the encoded size of a non-repeated string field (absent
// when empty, as proto3 encodes it).
func sizeString(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeBytes(len(s))
}

func sizeVarint(v uint64) int {
	if v == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(v)
}

// sampleSize is the encoded size of s as an altimeter.v1.Sample, its
// metadata given as key/value pairs.
func sampleSize(s *sample.Sample, meta []string) int {
	n := sizeString(s.Name) + sizeVarint(uint64(int64(int32(s.Type)))) + sizeString(s.Unit) +
		sizeString(s.ResourceID) + sizeString(s.ProjectID) + sizeString(s.UserID) +
		sizeVarint(uint64(unixNano(s.Timestamp))) + sizeString(s.Source) + sizeString(s.MessageID) +
		sizeVarint(uint64(int64(s.MonotonicTime))) + sizeString(s.Signature)
	if s.Volume != 0 || math.Signbit(s.Volume) {
		n += 1 + 8
	}
	for _, kv := range meta {
		n += 1 + protowire.SizeBytes(len(kv))
	}
	return n
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendSample appends the fields of s, an altimeter.v1.Sample of size
// bytes, with its field header (Batch field 1). Metadata goes as
// key/value pairs of fields 12 and 13, which decode as the two lists.
func appendSample(b []byte, s *sample.Sample, meta []string, size int) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	return appendSampleFields(b, s, meta)
}

// appendSampleFields appends the field records of s, without a header.
func appendSampleFields(b []byte, s *sample.Sample, meta []string) []byte {
	b = appendString(b, 1, s.Name)
	b = appendVarint(b, 2, uint64(int64(int32(s.Type))))
	b = appendString(b, 3, s.Unit)
	if s.Volume != 0 || math.Signbit(s.Volume) {
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(s.Volume))
	}
	b = appendString(b, 5, s.ResourceID)
	b = appendString(b, 6, s.ProjectID)
	b = appendString(b, 7, s.UserID)
	b = appendVarint(b, 8, uint64(unixNano(s.Timestamp)))
	b = appendString(b, 9, s.Source)
	b = appendString(b, 10, s.MessageID)
	b = appendVarint(b, 11, uint64(int64(s.MonotonicTime)))
	for i := 0; i+1 < len(meta); i += 2 {
		b = protowire.AppendTag(b, 12, protowire.BytesType)
		b = protowire.AppendString(b, meta[i])
		b = protowire.AppendTag(b, 13, protowire.BytesType)
		b = protowire.AppendString(b, meta[i+1])
	}
	return appendString(b, 14, s.Signature)
}

// validString is utf8.ValidString; short strings (most of a sample's)
// are checked inline.
func validString(s string) bool {
	if len(s) > 16 {
		return utf8.ValidString(s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// checkUTF8 refuses a sample protobuf's encoder would refuse: a string
// that is not valid UTF-8.
func checkUTF8(s *sample.Sample, meta []string) error {
	if !validString(s.Name) || !validString(s.Unit) || !validString(s.ResourceID) ||
		!validString(s.ProjectID) || !validString(s.UserID) || !validString(s.Source) ||
		!validString(s.MessageID) || !validString(s.Signature) {
		for _, f := range [...]struct{ name, v string }{{"name", s.Name}, {"unit", s.Unit},
			{"resource_id", s.ResourceID}, {"project_id", s.ProjectID}, {"user_id", s.UserID},
			{"source", s.Source}, {"message_id", s.MessageID}, {"message_signature", s.Signature}} {
			if !utf8.ValidString(f.v) {
				return fmt.Errorf("%s: %w", f.name, errUTF8)
			}
		}
	}
	for i := 0; i+1 < len(meta); i += 2 {
		if !validString(meta[i]) || !validString(meta[i+1]) {
			return fmt.Errorf("metadata %q: %w", meta[i], errUTF8)
		}
	}
	return nil
}

// batchEncoding is a batch being encoded: the sizes of its samples, their
// metadata as key/value pairs (a map is read once), and its events and
// notifications already marshalled as field records.
type batchEncoding struct {
	samples []sample.Sample
	sizes   []int
	meta    []string // key, value, key, value...
	metaEnd []int    // per sample, where its pairs end in meta
	extra   []byte
	size    int
}

func (e *batchEncoding) metaOf(i int) []string {
	start := 0
	if i > 0 {
		start = e.metaEnd[i-1]
	}
	return e.meta[start:e.metaEnd[i]]
}

// prepare sizes b (nil: the empty batch) and checks its strings; rawEvents
// are Batch field 2 records appended as they are.
func (e *batchEncoding) prepare(samples []sample.Sample, b *sample.Batch, rawEvents []byte) error {
	*e = batchEncoding{samples: samples, sizes: e.sizes[:0], extra: e.extra[:0], meta: e.meta[:0], metaEnd: e.metaEnd[:0]}
	for i := range samples {
		start := len(e.meta)
		for k, v := range samples[i].Metadata {
			e.meta = append(e.meta, k, v)
		}
		e.metaEnd = append(e.metaEnd, len(e.meta))
		meta := e.meta[start:]
		if err := checkUTF8(&samples[i], meta); err != nil {
			return fmt.Errorf("encode sample %d: %w", i, err)
		}
		n := sampleSize(&samples[i], meta)
		e.sizes = append(e.sizes, n)
		e.size += 1 + protowire.SizeBytes(n)
	}
	e.extra = append(e.extra, rawEvents...)
	if b != nil {
		var err error
		for i := range b.Events {
			if e.extra, err = appendEvent(e.extra, &b.Events[i]); err != nil {
				return fmt.Errorf("encode event %d: %w", i, err)
			}
		}
		for i := range b.Notifications {
			if e.extra, err = appendMessage(e.extra, 3, NotificationToProto(&b.Notifications[i])); err != nil {
				return fmt.Errorf("encode notification %d: %w", i, err)
			}
		}
	}
	e.size += len(e.extra)
	return nil
}

func appendMessage(b []byte, num protowire.Number, m proto.Message) ([]byte, error) {
	raw, err := proto.Marshal(m)
	if err != nil {
		return b, err
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, raw), nil
}

// append appends the prepared batch's bytes.
func (e *batchEncoding) append(b []byte) []byte {
	for i := range e.samples {
		b = appendSample(b, &e.samples[i], e.metaOf(i), e.sizes[i])
	}
	return append(b, e.extra...)
}

// AppendBatch appends b encoded as an altimeter.v1.Batch: the bytes
// protobuf's encoder gives for BatchToProto(b), but for the order of
// metadata entries, which a map does not have.
func AppendBatch(dst []byte, b *sample.Batch) ([]byte, error) {
	var e batchEncoding
	var samples []sample.Sample
	if b != nil {
		samples = b.Samples
	}
	if err := e.prepare(samples, b, nil); err != nil {
		return dst, err
	}
	return e.append(dst), nil
}
