package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// novaNamespacePrefix starts every version of Nova's libvirt metadata
// namespace (1.0, 1.1).
const novaNamespacePrefix = "http://openstack.org/xmlns/libvirt/nova/"

// domainXML is the part of a libvirt domain definition the plugin reads.
type domainXML struct {
	Name string `xml:"name"`
	UUID string `xml:"uuid"`
	OS   struct {
		Type struct {
			Arch  string `xml:"arch,attr"`
			Value string `xml:",chardata"`
		} `xml:"type"`
	} `xml:"os"`
	Metadata struct {
		Items []novaInstance `xml:",any"`
	} `xml:"metadata"`
	Devices struct {
		Disks []struct {
			Device string `xml:"device,attr"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"disk"`
		Interfaces []struct {
			MAC struct {
				Address string `xml:"address,attr"`
			} `xml:"mac"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
			FilterRef *struct {
				Filter string `xml:"filter,attr"`
				Params []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"parameter"`
			} `xml:"filterref"`
		} `xml:"interface"`
	} `xml:"devices"`
}

// novaInstance is Nova's <nova:instance> element (any element in metadata
// decodes into it; XMLName tells which one it was).
type novaInstance struct {
	XMLName xml.Name
	Name    string `xml:"name"`
	Flavor  struct {
		Name      string `xml:"name,attr"`
		Memory    string `xml:"memory"`
		Disk      string `xml:"disk"`
		Swap      string `xml:"swap"`
		Ephemeral string `xml:"ephemeral"`
		VCPUs     string `xml:"vcpus"`
	} `xml:"flavor"`
	Owner struct {
		User struct {
			UUID string `xml:"uuid,attr"`
		} `xml:"user"`
		Project struct {
			UUID string `xml:"uuid,attr"`
		} `xml:"project"`
	} `xml:"owner"`
	Roots []struct {
		Type string `xml:"type,attr"`
		UUID string `xml:"uuid,attr"`
	} `xml:"root"`
}

// vnic is one network interface of a domain.
type vnic struct {
	dev, mac, fref string
	params         map[string]string
}

// instance is what the plugin knows of one domain from its definition.
type instance struct {
	uuid, name  string // libvirt uuid and name (instance-0000002a)
	displayName string
	projectID   string
	userID      string
	flavorName  string
	flavor      map[string]int // vcpus, ram, disk, ephemeral, swap
	imageID     string
	osType      string
	arch        string
	disks       []string
	nics        []vnic
	nova        bool
}

// parseDomainXML reads a domain definition. A domain without Nova metadata
// parses (nova is false); a malformed Nova flavor number is an error.
func parseDomainXML(s string) (*instance, error) {
	var d domainXML
	if err := xml.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("parse domain xml: %w", err)
	}
	in := &instance{uuid: d.UUID, name: d.Name, osType: d.OS.Type.Value, arch: d.OS.Type.Arch}
	for _, disk := range d.Devices.Disks {
		if disk.Target.Dev != "" && (disk.Device == "" || disk.Device == "disk") {
			in.disks = append(in.disks, disk.Target.Dev)
		}
	}
	for _, i := range d.Devices.Interfaces {
		// As Ceilometer: an interface without a target or mac has no
		// host-side device to report.
		if i.Target.Dev == "" || i.MAC.Address == "" {
			continue
		}
		v := vnic{dev: i.Target.Dev, mac: i.MAC.Address}
		if i.FilterRef != nil {
			v.fref = i.FilterRef.Filter
			v.params = make(map[string]string, len(i.FilterRef.Params))
			for _, p := range i.FilterRef.Params {
				v.params[strings.ToLower(p.Name)] = p.Value
			}
		}
		in.nics = append(in.nics, v)
	}
	for _, m := range d.Metadata.Items {
		if m.XMLName.Local != "instance" || !strings.HasPrefix(m.XMLName.Space, novaNamespacePrefix) {
			continue
		}
		in.nova = true
		in.displayName = m.Name
		in.projectID = m.Owner.Project.UUID
		in.userID = m.Owner.User.UUID
		in.flavorName = m.Flavor.Name
		in.flavor = make(map[string]int, 5)
		for _, f := range []struct{ key, v string }{
			{"vcpus", m.Flavor.VCPUs}, {"ram", m.Flavor.Memory}, {"disk", m.Flavor.Disk},
			{"ephemeral", m.Flavor.Ephemeral}, {"swap", m.Flavor.Swap},
		} {
			if f.v == "" {
				in.flavor[f.key] = 0 // as Ceilometer's _safe_find_int
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(f.v))
			if err != nil {
				return nil, fmt.Errorf("domain %s: nova flavor %s: %q is not an integer", d.Name, f.key, f.v)
			}
			in.flavor[f.key] = n
		}
		for _, r := range m.Roots {
			if r.Type == "image" {
				in.imageID = r.UUID
			}
		}
		break
	}
	return in, nil
}

// vmState and status map a libvirt domain state to the strings Ceilometer
// puts in resource metadata "state" and "status".
var (
	vmState = [...]string{"pending", "running", "running", "paused", "shutdown", "shutdown", "crashed", "suspended"}
	vmStat  = [...]string{"building", "active", "active", "paused", "stopped", "stopped", "error", "suspended"}
)

func stateName(table []string, st int) string {
	if st >= 0 && st < len(table) {
		return table[st]
	}
	return ""
}

// hostID is Nova's hostId: sha224(project_id + host), as Ceilometer's
// libvirt metadata discovery computes it.
func hostID(project, host string) string {
	h := sha256.Sum224([]byte(project + host))
	return hex.EncodeToString(h[:])
}

// metadata builds the Ceilometer resource metadata of an instance in
// libvirt state st, on compute host host.
func (in *instance) metadata(host string, st int) map[string]string {
	md := make(map[string]string, 24)
	md["display_name"] = in.displayName
	md["name"] = in.name
	md["instance_id"] = in.uuid
	md["instance_type"] = in.flavorName
	md["host"] = hostID(in.projectID, host)
	md["instance_host"] = host
	md["status"] = stateName(vmStat[:], st)
	md["state"] = stateName(vmState[:], st)
	md["os_type"] = in.osType
	md["architecture"] = in.arch
	md["flavor.name"] = in.flavorName
	for _, k := range []string{"vcpus", "ram", "disk", "ephemeral", "swap"} {
		md["flavor."+k] = strconv.Itoa(in.flavor[k])
	}
	md["vcpus"] = strconv.Itoa(in.flavor["vcpus"])
	md["memory_mb"] = strconv.Itoa(in.flavor["ram"])
	md["disk_gb"] = strconv.Itoa(in.flavor["disk"])
	md["ephemeral_gb"] = strconv.Itoa(in.flavor["ephemeral"])
	md["root_gb"] = strconv.Itoa(in.flavor["disk"] - in.flavor["ephemeral"])
	md["image_ref"] = in.imageID
	if in.imageID != "" {
		md["image.id"] = in.imageID
	}
	return md
}
