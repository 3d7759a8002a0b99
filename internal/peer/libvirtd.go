package peer

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// nobody is the uid and gid a root test runs libvirtd as: a session daemon
// refuses nothing as root, but it would then be a system daemon writing
// under /etc and /run.
const nobody = 65534

// maxSocketPath is the longest unix socket path Linux accepts (sun_path).
const maxSocketPath = 107

// Libvirtd is a private, unprivileged (session) libvirtd started by
// StartLibvirtd, with all of its state under Dir. Connect to it through
// Socket with any URI its drivers serve; tests use the test driver
// ("test:///default" or "test://<node file>"). With a node file, every
// connection gets its own copy of the domains in the file: what one
// connection changes (destroy, undefine) the others do not see, and a
// restarted daemon starts from the file again.
type Libvirtd struct {
	// Dir holds the daemon's home, runtime, config and cache directories.
	Dir string
	// Socket is the daemon's read-write unix socket.
	Socket string

	proc *Process
	env  []string
	argv []string
}

// StartLibvirtd starts a session libvirtd under dir/libvirt and waits until
// it answers on its socket. As root it runs as nobody (through setpriv),
// and the directories above dir are made traversable (o+x) so that the
// daemon can reach its own files and node files written into dir. Stop it
// with Stop (by PID).
func StartLibvirtd(ctx context.Context, dir string) (*Libvirtd, error) {
	bin := "/usr/sbin/libvirtd"
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("start libvirtd: %w (%s)", err, InstallHint)
	}
	base := filepath.Join(dir, "libvirt")
	l := &Libvirtd{Dir: base, Socket: filepath.Join(base, "run", "libvirt", "libvirt-sock")}
	if len(l.Socket) > maxSocketPath {
		return nil, fmt.Errorf("start libvirtd: socket path %s is %d bytes, longer than the %d a unix socket allows; use a shorter directory", l.Socket, len(l.Socket), maxSocketPath)
	}
	for _, sub := range []string{"home", "run", "config", "cache"} {
		if err := os.MkdirAll(filepath.Join(base, sub), 0o700); err != nil {
			return nil, fmt.Errorf("start libvirtd: %w", err)
		}
	}
	l.env = []string{
		"HOME=" + filepath.Join(base, "home"),
		"XDG_RUNTIME_DIR=" + filepath.Join(base, "run"),
		"XDG_CONFIG_HOME=" + filepath.Join(base, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(base, "cache"),
		"LIBVIRT_DEFAULT_URI=",
	}
	// --timeout: an orphaned daemon (the test binary was killed; setpriv's
	// uid change clears the parent-death signal) exits once idle.
	l.argv = []string{bin, "--timeout", "120"}
	if os.Geteuid() == 0 {
		if err := traversable(dir); err != nil {
			return nil, fmt.Errorf("start libvirtd: %w", err)
		}
		if err := chownTree(base, nobody); err != nil {
			return nil, fmt.Errorf("start libvirtd: %w", err)
		}
		l.argv = append([]string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups"}, l.argv...)
	}
	if err := l.start(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Libvirtd) start(ctx context.Context) error {
	_ = os.Remove(l.Socket) // a killed daemon leaves its socket behind
	p, err := Start("libvirtd", filepath.Dir(l.Dir), l.env, l.argv...)
	if err != nil {
		return err
	}
	if err := p.WaitFor(ctx, 30*time.Second, l.probe); err != nil {
		p.Stop()
		return fmt.Errorf("start libvirtd: %w", err)
	}
	l.proc = p
	return nil
}

// probe succeeds once the daemon serves a test driver connection.
func (l *Libvirtd) probe(context.Context) error {
	c := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(l.Socket), dialers.WithLocalTimeout(time.Second)))
	if err := c.ConnectToURI(libvirt.TestDefault); err != nil {
		return err
	}
	return c.Disconnect()
}

// PID returns the running daemon's process id (0 when stopped).
func (l *Libvirtd) PID() int {
	if l.proc == nil || l.proc.Exited() {
		return 0
	}
	return l.proc.PID()
}

// Process returns the current daemon process (it changes on Restart).
func (l *Libvirtd) Process() *Process { return l.proc }

// Kill SIGKILLs the daemon by PID, as a crash would, and waits for it.
func (l *Libvirtd) Kill() { l.proc.Kill() }

// Restart starts the daemon again in the same directory, on the same
// socket, killing it first if it still runs.
func (l *Libvirtd) Restart(ctx context.Context) error {
	l.proc.Kill()
	return l.start(ctx)
}

// Stop stops the daemon by PID (SIGTERM, then SIGKILL). Safe to call twice.
func (l *Libvirtd) Stop() {
	if l != nil {
		l.proc.Stop()
	}
}

// TestURI returns the test driver URI that reads its domains from nodeFile,
// for go-libvirt's ConnectToURI over Socket.
func (l *Libvirtd) TestURI(nodeFile string) string { return "test://" + nodeFile }

// VirshURI returns a URI for virsh -c that reaches nodeFile's test driver
// through this daemon's socket.
func (l *Libvirtd) VirshURI(nodeFile string) string {
	return "test+unix://" + nodeFile + "?socket=" + l.Socket
}

// traversable adds o+x to dir and each of its ancestors that lacks it, so
// that an unprivileged daemon can reach files under dir.
func traversable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("make %s traversable: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func chownTree(root string, id int) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, id, id)
	})
}

// NovaDomain is a test domain shaped as Nova defines instances: named
// instance-%08x, with Nova's libvirt metadata (<nova:instance>), disks vda
// (and more) and tap NICs.
type NovaDomain struct {
	UUID        string
	Name        string // libvirt name, "instance-0000002a"
	DisplayName string // the Nova server name
	FlavorName  string
	MemoryMB    int
	VCPUs       int
	DiskGB      int
	UserID      string
	ProjectID   string
	ImageID     string
	Disks       []string // target devs: vda, vdb
	NICs        []NovaNIC
	// Shutoff defines the domain as shut off rather than running.
	Shutoff bool
}

// NovaNIC is a vNIC of a NovaDomain.
type NovaNIC struct {
	Dev string // tap device, the target dev libvirt reports stats by
	MAC string
}

// NovaDomains returns n deterministic Nova-style domains: instance i (from
// 1) has uuid 00000000-0000-4000-8000-<i as 12 hex digits>, name
// instance-<i as 8 hex digits>, display name vm-<i>, 1 + i%4 vCPUs, 512 MB
// per vCPU, a vda disk (and vdb for every third), one NIC tap<i> (two for
// every fifth), and alternates between two projects and users.
func NovaDomains(n int) []NovaDomain {
	out := make([]NovaDomain, n)
	for k := range out {
		i := k + 1
		v := 1 + i%4
		d := NovaDomain{
			UUID:        fmt.Sprintf("00000000-0000-4000-8000-%012x", i),
			Name:        fmt.Sprintf("instance-%08x", i),
			DisplayName: fmt.Sprintf("vm-%d", i),
			FlavorName:  fmt.Sprintf("m1.v%d", v),
			MemoryMB:    512 * v,
			VCPUs:       v,
			DiskGB:      10 * v,
			UserID:      fmt.Sprintf("u%031x", 1+i%2),
			ProjectID:   fmt.Sprintf("p%031x", 1+i%2),
			ImageID:     "11111111-2222-4333-8444-555555555555",
			Disks:       []string{"vda"},
			NICs:        []NovaNIC{{Dev: fmt.Sprintf("tap%08x-a", i), MAC: fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)}},
		}
		if i%3 == 0 {
			d.Disks = append(d.Disks, "vdb")
		}
		if i%5 == 0 {
			d.NICs = append(d.NICs, NovaNIC{Dev: fmt.Sprintf("tap%08x-b", i), MAC: fmt.Sprintf("fa:16:3f:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)})
		}
		out[k] = d
	}
	return out
}

// NovaNamespace is the XML namespace of Nova's libvirt metadata.
const NovaNamespace = "http://openstack.org/xmlns/libvirt/nova/1.1"

// WriteNodeXML writes a test driver node file holding doms, readable by
// all: put it in the directory given to StartLibvirtd, which the daemon
// can reach.
func WriteNodeXML(path string, doms []NovaDomain) error {
	var b strings.Builder
	b.WriteString("<node>\n")
	for _, d := range doms {
		if err := writeDomain(&b, d); err != nil {
			return fmt.Errorf("write node file %s: domain %s: %w", path, d.Name, err)
		}
	}
	b.WriteString("</node>\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write node file: %w", err)
	}
	return nil
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func writeDomain(b *strings.Builder, d NovaDomain) error {
	if d.Name == "" || d.UUID == "" {
		return errors.New("name and uuid are required")
	}
	if d.VCPUs < 1 || d.MemoryMB < 1 {
		return errors.New("vcpus and memory must be positive")
	}
	kib := d.MemoryMB * 1024
	fmt.Fprintf(b, "  <domain type='test'>\n    <name>%s</name>\n    <uuid>%s</uuid>\n", esc(d.Name), esc(d.UUID))
	fmt.Fprintf(b, "    <memory unit='KiB'>%d</memory>\n    <currentMemory unit='KiB'>%d</currentMemory>\n    <vcpu>%d</vcpu>\n", kib, kib, d.VCPUs)
	b.WriteString("    <os><type arch='x86_64'>hvm</type></os>\n")
	fmt.Fprintf(b, "    <metadata>\n      <nova:instance xmlns:nova='%s'>\n", NovaNamespace)
	b.WriteString("        <nova:package version='27.1.0'/>\n")
	fmt.Fprintf(b, "        <nova:name>%s</nova:name>\n", esc(d.DisplayName))
	b.WriteString("        <nova:creationTime>2026-11-22 00:00:00</nova:creationTime>\n")
	fmt.Fprintf(b, "        <nova:flavor name='%s'>\n", esc(d.FlavorName))
	fmt.Fprintf(b, "          <nova:memory>%d</nova:memory>\n          <nova:disk>%d</nova:disk>\n          <nova:swap>0</nova:swap>\n          <nova:ephemeral>0</nova:ephemeral>\n          <nova:vcpus>%d</nova:vcpus>\n", d.MemoryMB, d.DiskGB, d.VCPUs)
	b.WriteString("        </nova:flavor>\n        <nova:owner>\n")
	fmt.Fprintf(b, "          <nova:user uuid='%s'>user-%s</nova:user>\n", esc(d.UserID), esc(d.UserID))
	fmt.Fprintf(b, "          <nova:project uuid='%s'>project-%s</nova:project>\n", esc(d.ProjectID), esc(d.ProjectID))
	b.WriteString("        </nova:owner>\n")
	if d.ImageID != "" {
		fmt.Fprintf(b, "        <nova:root type='image' uuid='%s'/>\n", esc(d.ImageID))
	}
	b.WriteString("      </nova:instance>\n    </metadata>\n    <devices>\n")
	for _, dev := range d.Disks {
		fmt.Fprintf(b, "      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/nova/instances/%s/disk.%s'/><target dev='%s' bus='virtio'/></disk>\n", esc(d.UUID), esc(dev), esc(dev))
	}
	for _, n := range d.NICs {
		fmt.Fprintf(b, "      <interface type='bridge'><mac address='%s'/><source bridge='br-int'/><target dev='%s'/><model type='virtio'/></interface>\n", esc(n.MAC), esc(n.Dev))
	}
	b.WriteString("      <memballoon model='virtio'/>\n    </devices>\n")
	if d.Shutoff {
		// The test driver runs every domain of a node file unless told.
		b.WriteString("    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>\n")
	}
	b.WriteString("  </domain>\n")
	return nil
}
