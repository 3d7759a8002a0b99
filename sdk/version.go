package sdk

// Version is the SDK's semantic version, reported by every plugin in Describe.
const Version = "0.1.0"

// ProtocolVersion is the plugin wire protocol this SDK speaks. It is
// go-plugin's VersionedPlugins key; within a version proto changes are
// additive only.
const ProtocolVersion = 1
