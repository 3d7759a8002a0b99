package pluginmgr

import (
	"errors"
	"fmt"
	"strings"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

var (
	// ErrPluginNotFound is returned (wrapped) by Describe and Launch for a
	// kind/name that the last Scan did not find.
	ErrPluginNotFound = errors.New("plugin not found")
	// ErrPluginExited replaces transport errors seen after the plugin
	// process has exited (see Instance.Err).
	ErrPluginExited = errors.New("plugin process exited")
	// ErrFailed is returned by Instance.Conn once the instance gave up
	// restarting (crash loop).
	ErrFailed = errors.New("plugin instance failed")
	// ErrStopped is returned by Instance.Conn once the instance was stopped,
	// and by Launch after Shutdown.
	ErrStopped = errors.New("plugin instance stopped")
	// ErrDuplicateInstance is returned by Launch for an instance ID that is
	// already launched (stop it first).
	ErrDuplicateInstance = errors.New("plugin instance already launched")
	// ErrRefused is matched by every *RefusedError: a plugin binary or
	// directory others could change, or a digest other than the pinned one.
	ErrRefused = errors.New("plugin binary refused")
)

// ConfigError is returned by Launch when the plugin rejected its
// configuration. Errors carry the attribute paths the caller maps back to
// file:line:col.
type ConfigError struct {
	Instance string
	Errors   []*pb.ConfigError
}

func (e *ConfigError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, ce := range e.Errors {
		s := ce.GetSummary()
		if a := ce.GetAttribute(); a != "" {
			s = a + ": " + s
		}
		if d := ce.GetDetail(); d != "" {
			s += ": " + d
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("configure %s: %s", e.Instance, strings.Join(parts, "; "))
}
