package wire

import (
	"time"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func splitMap(m map[string]string) (keys, values []string) {
	if len(m) == 0 {
		return nil, nil
	}
	keys = make([]string, 0, len(m))
	values = make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, k)
		values = append(values, v)
	}
	return keys, values
}

func joinMap(keys, values []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if i < len(values) {
			m[k] = values[i]
		}
	}
	return m
}

// SampleToProto converts one sample into dst, reusing its storage.
func SampleToProto(s *sample.Sample, dst *pb.Sample) {
	*dst = protoFields(s)
	dst.MetadataKeys, dst.MetadataValues = splitMap(s.Metadata)
}

// protoFields is s as a proto sample without its metadata: the one place
// a sample's fields map to the generated message.
func protoFields(s *sample.Sample) pb.Sample {
	return pb.Sample{
		Name:             s.Name,
		Type:             pb.SampleType(s.Type),
		Unit:             s.Unit,
		Volume:           s.Volume,
		ResourceId:       s.ResourceID,
		ProjectId:        s.ProjectID,
		UserId:           s.UserID,
		Timestamp:        unixNano(s.Timestamp),
		Source:           s.Source,
		MessageId:        s.MessageID,
		MonotonicTime:    int64(s.MonotonicTime),
		MessageSignature: s.Signature,
	}
}

// SampleFromProto converts one sample.
func SampleFromProto(p *pb.Sample, dst *sample.Sample) {
	*dst = sample.Sample{
		Name:          p.GetName(),
		Type:          sample.Type(p.GetType()),
		Unit:          p.GetUnit(),
		Volume:        p.GetVolume(),
		ResourceID:    p.GetResourceId(),
		ProjectID:     p.GetProjectId(),
		UserID:        p.GetUserId(),
		Timestamp:     fromUnixNano(p.GetTimestamp()),
		Source:        p.GetSource(),
		MessageID:     p.GetMessageId(),
		MonotonicTime: time.Duration(p.GetMonotonicTime()),
		Metadata:      joinMap(p.GetMetadataKeys(), p.GetMetadataValues()),
		Signature:     p.GetMessageSignature(),
	}
}

// SamplesToProto converts a slice of samples with one allocation for the
// messages and one for all their metadata.
func SamplesToProto(in []sample.Sample) []*pb.Sample {
	if len(in) == 0 {
		return nil
	}
	var e Encoder
	return e.samples(in)
}

// Encoder converts batches into storage it reuses from one call to the
// next: what a call returns is valid until the next call. For a plugin that
// marshals each batch before converting the next (a listener's stream
// Send), it saves the per-batch allocations of messages and metadata lists.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	store []pb.Sample
	ptrs  []*pb.Sample
	meta  []string
	batch pb.Batch
}

// Batch converts b; the result is valid until the next call.
func (e *Encoder) Batch(b *sample.Batch) *pb.Batch {
	e.batch.Samples, e.batch.Events, e.batch.Notifications = nil, nil, nil
	if b == nil {
		return &e.batch
	}
	e.batch.Samples = e.samples(b.Samples)
	if len(b.Events) > 0 {
		e.batch.Events = make([]*pb.Event, len(b.Events))
		for i := range b.Events {
			e.batch.Events[i] = EventToProto(&b.Events[i])
		}
	}
	if len(b.Notifications) > 0 {
		e.batch.Notifications = make([]*pb.Notification, len(b.Notifications))
		for i := range b.Notifications {
			e.batch.Notifications[i] = NotificationToProto(&b.Notifications[i])
		}
	}
	return &e.batch
}

func (e *Encoder) samples(in []sample.Sample) []*pb.Sample {
	if len(in) == 0 {
		return nil
	}
	if cap(e.store) < len(in) {
		e.store = make([]pb.Sample, len(in))
		e.ptrs = make([]*pb.Sample, len(in))
	}
	store, out := e.store[:len(in)], e.ptrs[:len(in)]
	nmeta := 0
	for i := range in {
		nmeta += len(in[i].Metadata)
	}
	if cap(e.meta) < 2*nmeta {
		e.meta = make([]string, 2*nmeta)
	}
	meta := e.meta[:2*nmeta]
	for i := range in {
		s := &in[i]
		store[i] = protoFields(s)
		if n := len(s.Metadata); n > 0 {
			keys, values := meta[:0:n], meta[n:n:2*n]
			for k, v := range s.Metadata {
				keys = append(keys, k)
				values = append(values, v)
			}
			store[i].MetadataKeys, store[i].MetadataValues = keys, values
			meta = meta[2*n:]
		}
		out[i] = &store[i]
	}
	return out
}

// SamplesFromProto converts a slice of samples.
func SamplesFromProto(in []*pb.Sample) []sample.Sample {
	if len(in) == 0 {
		return nil
	}
	out := make([]sample.Sample, len(in))
	for i, p := range in {
		SampleFromProto(p, &out[i])
	}
	return out
}

// EventToProto converts one event.
func EventToProto(e *sample.Event) *pb.Event {
	traits := make([]*pb.Trait, len(e.Traits))
	for i, t := range e.Traits {
		pt := &pb.Trait{Name: t.Name}
		switch t.Type {
		case sample.TraitInt:
			pt.Value = &pb.Trait_Int{Int: t.Int}
		case sample.TraitFloat:
			pt.Value = &pb.Trait_Float{Float: t.Float}
		case sample.TraitDatetime:
			pt.Value = &pb.Trait_Datetime{Datetime: unixNano(t.Datetime)}
		default:
			pt.Value = &pb.Trait_Text{Text: t.Text}
		}
		traits[i] = pt
	}
	return &pb.Event{
		MessageId: e.MessageID,
		EventType: e.EventType,
		Generated: unixNano(e.Generated),
		Traits:    traits,
		Raw:       e.Raw,
	}
}

// EventFromProto converts one event.
func EventFromProto(p *pb.Event) sample.Event {
	traits := make([]sample.Trait, len(p.GetTraits()))
	for i, pt := range p.GetTraits() {
		t := sample.Trait{Name: pt.GetName()}
		switch v := pt.GetValue().(type) {
		case *pb.Trait_Int:
			t.Type, t.Int = sample.TraitInt, v.Int
		case *pb.Trait_Float:
			t.Type, t.Float = sample.TraitFloat, v.Float
		case *pb.Trait_Datetime:
			t.Type, t.Datetime = sample.TraitDatetime, fromUnixNano(v.Datetime)
		default:
			t.Type, t.Text = sample.TraitText, pt.GetText()
		}
		traits[i] = t
	}
	return sample.Event{
		MessageID: p.GetMessageId(),
		EventType: p.GetEventType(),
		Generated: fromUnixNano(p.GetGenerated()),
		Traits:    traits,
		Raw:       p.GetRaw(),
	}
}

// BatchToProto converts a batch.
func BatchToProto(b *sample.Batch) *pb.Batch {
	var e Encoder
	return e.Batch(b)
}

// NotificationToProto converts one archived notification.
func NotificationToProto(n *sample.Notification) *pb.Notification {
	return &pb.Notification{
		MessageId:   n.MessageID,
		EventType:   n.EventType,
		Priority:    n.Priority,
		PublisherId: n.PublisherID,
		Host:        n.Host,
		Timestamp:   unixNano(n.Timestamp),
		RequestId:   n.RequestID,
		ProjectId:   n.ProjectID,
		UserId:      n.UserID,
		ResourceId:  n.ResourceID,
		Reason:      n.Reason,
		Raw:         n.Raw,
		Expires:     unixNano(n.Expires),
	}
}

// NotificationFromProto converts one archived notification.
func NotificationFromProto(p *pb.Notification) sample.Notification {
	return sample.Notification{
		MessageID:   p.GetMessageId(),
		EventType:   p.GetEventType(),
		Priority:    p.GetPriority(),
		PublisherID: p.GetPublisherId(),
		Host:        p.GetHost(),
		Timestamp:   fromUnixNano(p.GetTimestamp()),
		RequestID:   p.GetRequestId(),
		ProjectID:   p.GetProjectId(),
		UserID:      p.GetUserId(),
		ResourceID:  p.GetResourceId(),
		Reason:      p.GetReason(),
		Raw:         p.GetRaw(),
		Expires:     fromUnixNano(p.GetExpires()),
	}
}

// BatchFromProto converts a batch.
func BatchFromProto(p *pb.Batch) sample.Batch {
	b := sample.Batch{Samples: SamplesFromProto(p.GetSamples())}
	if n := len(p.GetEvents()); n > 0 {
		b.Events = make([]sample.Event, n)
		for i, e := range p.GetEvents() {
			b.Events[i] = EventFromProto(e)
		}
	}
	if n := len(p.GetNotifications()); n > 0 {
		b.Notifications = make([]sample.Notification, n)
		for i, x := range p.GetNotifications() {
			b.Notifications[i] = NotificationFromProto(x)
		}
	}
	return b
}

// ResourceToProto converts a resource.
func ResourceToProto(r *sample.Resource) *pb.Resource {
	keys, values := splitMap(r.Metadata)
	return &pb.Resource{
		Id: r.ID, ProjectId: r.ProjectID, UserId: r.UserID, Endpoint: r.Endpoint,
		MetadataKeys: keys, MetadataValues: values,
	}
}

// ResourceFromProto converts a resource.
func ResourceFromProto(p *pb.Resource) sample.Resource {
	return sample.Resource{
		ID: p.GetId(), ProjectID: p.GetProjectId(), UserID: p.GetUserId(), Endpoint: p.GetEndpoint(),
		Metadata: joinMap(p.GetMetadataKeys(), p.GetMetadataValues()),
	}
}

// ResourcesToProto converts resources.
func ResourcesToProto(in []sample.Resource) []*pb.Resource {
	out := make([]*pb.Resource, len(in))
	for i := range in {
		out[i] = ResourceToProto(&in[i])
	}
	return out
}

// ResourcesFromProto converts resources.
func ResourcesFromProto(in []*pb.Resource) []sample.Resource {
	out := make([]sample.Resource, len(in))
	for i, p := range in {
		out[i] = ResourceFromProto(p)
	}
	return out
}

// MeterToProto converts a meter description.
func MeterToProto(m sample.MeterInfo) *pb.MeterInfo {
	return &pb.MeterInfo{Name: m.Name, Type: pb.SampleType(m.Type), Unit: m.Unit, Description: m.Description}
}

// MeterFromProto converts a meter description.
func MeterFromProto(p *pb.MeterInfo) sample.MeterInfo {
	return sample.MeterInfo{Name: p.GetName(), Type: sample.Type(p.GetType()), Unit: p.GetUnit(), Description: p.GetDescription()}
}
