package agent

import (
	"fmt"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pluginmgr"
)

// pluginPolicy is what cfg requires of plugin binaries: the digests of its
// plugin blocks, and whether loose permissions are only warned about.
func pluginPolicy(cfg *config.Config) pluginmgr.Policy {
	p := pluginmgr.Policy{AllowInsecurePermissions: cfg.Agent.InsecurePluginPermissions}
	for _, pin := range cfg.Pins {
		r := pin.SHA256Range
		p.Pins = append(p.Pins, pluginmgr.Pin{
			Kind: pin.Kind, Name: pin.Name, SHA256: pin.SHA256,
			Source: fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column),
		})
	}
	return p
}
