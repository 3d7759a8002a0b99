package base

import (
	"fmt"

	"github.com/altimeter/altimeter/sdk"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Kind is a plugin kind.
type Kind uint8

// The plugin kinds.
const (
	KindUnspecified Kind = iota
	Pollster
	Listener
	Transformer
	Publisher
)

// String returns the kind's name as used in binary names and HCL.
func (k Kind) String() string {
	switch k {
	case Pollster:
		return "pollster"
	case Listener:
		return "listener"
	case Transformer:
		return "transformer"
	case Publisher:
		return "publisher"
	}
	return "unspecified"
}

// ParseKind parses a kind name.
func ParseKind(s string) (Kind, error) {
	for k := Pollster; k <= Publisher; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return KindUnspecified, fmt.Errorf("unknown plugin kind %q", s)
}

// HostAttributes are the attributes the host owns in a plugin's block, per
// kind; plugin schemas may not use these names.
func HostAttributes(k Kind) []string {
	if k == Listener {
		return []string{"sinks"}
	}
	return nil
}

// HostBlocks are the blocks the host owns in a plugin's block, per kind
// (a publish block's queue block); plugin schemas may not use these names.
func HostBlocks(k Kind) []string {
	if k == Publisher {
		return []string{"queue"}
	}
	return nil
}

// Discovery is a discovery method a pollster offers.
type Discovery struct {
	Name        string
	Description string
}

// Info is what Describe reports.
type Info struct {
	Kind            Kind
	Name            string
	Version         string
	SDKVersion      string
	ProtocolVersion uint32
	Description     string
	Meters          []sample.MeterInfo
	Discovery       []Discovery
	Schema          *schema.Schema
	// DynamicMeters says a pollster also provides meters its configuration
	// defines (SNMP OIDs, HTTP definitions), beyond Meters. The host then
	// sends it the polling block's patterns (Request.Meters holds globs) and
	// keeps only the samples those patterns select.
	DynamicMeters bool
}

// ToProto converts i for the wire.
func (i *Info) ToProto() (*pb.DescribeResponse, error) {
	s, err := i.Schema.ToProto()
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	out := &pb.DescribeResponse{
		Kind: pb.Kind(i.Kind), Name: i.Name, Version: i.Version,
		SdkVersion: i.SDKVersion, ProtocolVersion: i.ProtocolVersion,
		Description: i.Description, ConfigSchema: s, DynamicMeters: i.DynamicMeters,
	}
	for _, m := range i.Meters {
		out.Meters = append(out.Meters, wire.MeterToProto(m))
	}
	for _, d := range i.Discovery {
		out.Discovery = append(out.Discovery, &pb.DiscoveryInfo{Name: d.Name, Description: d.Description})
	}
	return out, nil
}

// InfoFromProto converts a Describe response.
func InfoFromProto(p *pb.DescribeResponse) (*Info, error) {
	s, err := schema.FromProto(p.GetConfigSchema())
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	i := &Info{
		Kind: Kind(p.GetKind()), Name: p.GetName(), Version: p.GetVersion(),
		SDKVersion: p.GetSdkVersion(), ProtocolVersion: p.GetProtocolVersion(),
		Description: p.GetDescription(), Schema: s, DynamicMeters: p.GetDynamicMeters(),
	}
	for _, m := range p.GetMeters() {
		i.Meters = append(i.Meters, wire.MeterFromProto(m))
	}
	for _, d := range p.GetDiscovery() {
		i.Discovery = append(i.Discovery, Discovery{Name: d.GetName(), Description: d.GetDescription()})
	}
	return i, nil
}

// NewInfo fills the SDK-owned fields of an Info and derives its schema from
// the config defaults. It panics on a programmer error (a config struct the
// schema package cannot describe, or one using a host-owned name).
func NewInfo(kind Kind, name, version, description string, defaults any) Info {
	s := schema.MustFromStruct(defaults)
	for _, h := range HostAttributes(kind) {
		for _, a := range s.Attributes {
			if a.Name == h {
				panic(fmt.Sprintf("%s %s: config attribute %q is owned by the host", kind, name, h))
			}
		}
	}
	for _, h := range HostBlocks(kind) {
		for _, b := range s.Blocks {
			if b.TypeName == h {
				panic(fmt.Sprintf("%s %s: config block %q is owned by the host", kind, name, h))
			}
		}
	}
	return Info{
		Kind: kind, Name: name, Version: version, Description: description,
		SDKVersion: sdk.Version, ProtocolVersion: sdk.ProtocolVersion, Schema: s,
	}
}

// BlockType is the HCL block type that configures a plugin of kind k:
// pollster and listener at top level, transform and publish inside a sink.
func (k Kind) BlockType() string {
	switch k {
	case Transformer:
		return "transform"
	case Publisher:
		return "publish"
	}
	return k.String()
}
