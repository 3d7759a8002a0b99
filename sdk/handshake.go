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

// WindowBytes is the HTTP/2 flow-control window (per stream and per
// connection) and IOBufferBytes the read and write buffer of a connection
// between host and plugin, both ends. gRPC's defaults (a 64 KiB window
// grown by probing, 32 KiB buffers) are made for networks; a batch of a
// thousand samples is about 130 KB, and the link is a local socket.
const (
	WindowBytes   = 4 << 20
	IOBufferBytes = 256 << 10
)
