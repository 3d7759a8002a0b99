// Command ipmi is the "ipmi" pollster plugin: Ceilometer's IPMI agent. It
// reads a BMC's temperature, fan, voltage and current sensors
// (hardware.ipmi.*) and, where the BMC offers them, the node meters of DCMI
// and Intel Node Manager (hardware.ipmi.node.*), in-band through the local
// /dev/ipmi<N> device or out-of-band over IPMI 2.0 lanplus, with the pure-Go
// client github.com/bougou/go-ipmi.
//
// It imports only the SDK; it never imports the host.
package main
