package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { pollster.Serve(spec()) }

// The meters, named, typed and with the units Ceilometer gives them.
const (
	meterTemperature = "hardware.ipmi.temperature"
	meterFan         = "hardware.ipmi.fan"
	meterVoltage     = "hardware.ipmi.voltage"
	meterCurrent     = "hardware.ipmi.current"

	meterNodePower       = "hardware.ipmi.node.power"
	meterNodeTemperature = "hardware.ipmi.node.temperature"
	meterNodeOutletTemp  = "hardware.ipmi.node.outlet_temperature"
	meterNodeAirflow     = "hardware.ipmi.node.airflow"
	meterNodeCUPS        = "hardware.ipmi.node.cups"
	meterNodeCPUUtil     = "hardware.ipmi.node.cpu_util"
	meterNodeMemUtil     = "hardware.ipmi.node.mem_util"
	meterNodeIOUtil      = "hardware.ipmi.node.io_util"
)

var meters = []sample.MeterInfo{
	{Name: meterTemperature, Type: sample.Gauge, Unit: "C", Description: "Temperature sensor reading, one resource per sensor."},
	{Name: meterFan, Type: sample.Gauge, Unit: "RPM", Description: "Fan sensor reading, one resource per sensor."},
	{Name: meterVoltage, Type: sample.Gauge, Unit: "V", Description: "Voltage sensor reading, one resource per sensor."},
	{Name: meterCurrent, Type: sample.Gauge, Unit: "W", Description: "Current-type sensor reading (unit as the sensor reports it: W, or Amps), one resource per sensor."},
	{Name: meterNodePower, Type: sample.Gauge, Unit: "W", Description: "System power: Intel Node Manager global power statistics, else DCMI Get Power Reading."},
	{Name: meterNodeTemperature, Type: sample.Gauge, Unit: "C", Description: "Inlet temperature from Intel Node Manager."},
	{Name: meterNodeOutletTemp, Type: sample.Gauge, Unit: "C", Description: "Outlet temperature from Intel Node Manager 3.0+."},
	{Name: meterNodeAirflow, Type: sample.Gauge, Unit: "CFM", Description: "Volumetric airflow from Intel Node Manager 3.0+."},
	{Name: meterNodeCUPS, Type: sample.Gauge, Unit: "CUPS", Description: "CUPS index from Intel Node Manager 3.0+."},
	{Name: meterNodeCPUUtil, Type: sample.Gauge, Unit: "%", Description: "CPU CUPS utilization from Intel Node Manager 3.0+."},
	{Name: meterNodeMemUtil, Type: sample.Gauge, Unit: "%", Description: "Memory CUPS utilization from Intel Node Manager 3.0+."},
	{Name: meterNodeIOUtil, Type: sample.Gauge, Unit: "%", Description: "I/O CUPS utilization from Intel Node Manager 3.0+."},
}

// spec declares the plugin; tests run the same value over gRPC.
func spec() pollster.Spec[config] {
	return pollster.Spec[config]{
		Name:        "ipmi",
		Version:     version,
		Description: "IPMI sensors (hardware.ipmi.*) and DCMI / Intel Node Manager node meters (hardware.ipmi.node.*), in-band through /dev/ipmi0 or remote over lanplus, as Ceilometer's IPMI agent.",
		Meters:      meters,
		Defaults:    defaults(),
		New: func(c config, log hclog.Logger) (pollster.Pollster, error) {
			return newIPMI(c, log)
		},
	}
}
