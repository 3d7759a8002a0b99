package pluginmgr

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// looseness says why someone other than root or the agent's user could
// change what fi describes, or "" when nobody could. A directory with the
// sticky bit (such as /tmp) may be writable by others when it is an
// ancestor: others can then add entries but not rename or remove ours.
func looseness(fi fs.FileInfo, ancestor bool) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	euid := os.Geteuid()
	mode := fi.Mode()
	switch {
	case st.Uid != 0 && int(st.Uid) != euid:
		return fmt.Sprintf("owned by uid %d, neither root nor the agent's user (uid %d)", st.Uid, euid)
	case ancestor && mode&os.ModeSticky != 0:
		return ""
	case mode.Perm()&0o002 != 0:
		return fmt.Sprintf("writable by others (mode %s)", mode)
	case mode.Perm()&0o020 != 0:
		return fmt.Sprintf("writable by its group (mode %s)", mode)
	}
	return ""
}

// treeLooseness checks dir (symlinks resolved) and each directory above it
// up to the root, and returns the first one someone else could change, with
// why, or "".
func treeLooseness(dir string) (path, why string, err error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", "", err
	}
	for p, ancestor := real, false; ; p, ancestor = filepath.Dir(p), true {
		fi, err := os.Stat(p)
		if err != nil {
			return "", "", err
		}
		if why := looseness(fi, ancestor); why != "" {
			return p, why, nil
		}
		if p == filepath.Dir(p) {
			return "", "", nil
		}
	}
}

// checkPerms refuses a plugin file (binary or checksums file) that a user
// other than root or the agent's could change, or that lives (symlinks
// resolved) in such a directory outside the plugin directory, which Scan
// has checked already. With pol.AllowInsecurePermissions it warns instead.
func (m *Manager) checkPerms(path string, fi fs.FileInfo, what string, pol Policy) error {
	bad, why := path, looseness(fi, false)
	if why == "" {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, path, err)
		}
		if filepath.Dir(real) != m.realDir {
			if bad, why, err = treeLooseness(filepath.Dir(real)); err != nil {
				return fmt.Errorf("%s %s: %w", what, path, err)
			}
		}
	}
	if why == "" {
		return nil
	}
	if pol.AllowInsecurePermissions {
		m.log.Warn("plugin file others can change; using it anyway as configured", "path", path, "insecure", bad, "problem", why)
		return nil
	}
	return &RefusedError{Path: path, Reason: refusal(what, bad, why)}
}

// checkDir refuses the plugin directory when a user other than root or the
// agent's could change it or a directory above it.
func (m *Manager) checkDir(dir string, pol Policy) error {
	bad, why, err := treeLooseness(dir)
	if err != nil {
		return fmt.Errorf("scan plugin directory: %w", err)
	}
	if why == "" {
		return nil
	}
	if pol.AllowInsecurePermissions {
		m.log.Warn("plugin directory others can change; running its plugins anyway as configured", "dir", dir, "insecure", bad, "problem", why)
		return nil
	}
	return &RefusedError{Path: dir, Reason: refusal("plugin directory", bad, why)}
}

func refusal(what, bad, why string) string {
	return fmt.Sprintf("%s refused: %s is %s, so a user other than root or the agent's could replace what the agent runs "+
		"(fix with chmod go-w or chown; or accept the risk with agent { strict_plugin_permissions = false })", what, bad, why)
}

// fileChanged is the part of a file's identity a rewrite always changes:
// the inode and its change time (which, unlike mtime, cannot be set back).
func fileChanged(fi fs.FileInfo) (uint64, time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, time.Time{}
	}
	return uint64(st.Ino), time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
}
