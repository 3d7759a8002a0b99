package sdk

import plugin "github.com/hashicorp/go-plugin"

// Handshake is shared by the host and every plugin. The cookie is a UX guard
// (a plugin binary run by hand says so), not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "ALTIMETER_PLUGIN",
	MagicCookieValue: "d4c1b9d0-altimeter-plugin",
}

// PluginKey is the single go-plugin dispense name every plugin serves.
const PluginKey = "altimeter"

// MaxMessageBytes bounds one gRPC message between host and plugin, both
// ways. gRPC's default of 4 MiB receives is too small for a full poll of a
// few hundred instances (each ~22 KB of samples); a batch should stay far
// below this.
const MaxMessageBytes = 256 << 20
