package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Queue is a publish block's queue block: how the host queues batches for
// that publisher.
type Queue struct {
	// Type is "disk" (a log under <data_dir>/queues/<sink>/<publisher>),
	// "memory", or "" for the publisher's default: disk for plugins,
	// memory for the built-in store, which is durable itself.
	Type string
	// MaxBytes bounds a disk queue (0: the default, 1 GiB).
	MaxBytes int64
	// Block refuses batches when full (full = "block"); otherwise the
	// oldest are dropped (full = "drop_oldest", the default).
	Block bool
	// SyncInterval is 0 to fsync each batch before accepting it.
	SyncInterval time.Duration
	DefRange     hcl.Range
}

// QueueBlock is the host-owned block in publish blocks.
const QueueBlock = "queue"

var queueSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "max_bytes"}, {Name: "full"}, {Name: "sync_interval"}},
}

// maxQueueBytes bounds max_bytes: a typo should not reserve a petabyte.
const maxQueueBytes = 1 << 40

func (l *loader) decodeQueue(b *hcl.Block) *Queue {
	q := &Queue{DefRange: b.DefRange}
	content, diags := b.Body.Content(queueSchema)
	l.diags = append(l.diags, diags...)
	if a, ok := content.Attributes["type"]; ok {
		if v, ok := l.stringAttr(a); ok {
			switch v {
			case "disk", "memory":
				q.Type = v
			default:
				l.invalid(a, "Invalid queue type", fmt.Sprintf("type must be \"disk\" or \"memory\"; got %q.", v))
			}
		}
	}
	if a, ok := content.Attributes["full"]; ok {
		if v, ok := l.stringAttr(a); ok {
			switch v {
			case "drop_oldest":
			case "block":
				q.Block = true
			default:
				l.invalid(a, "Invalid queue full policy", fmt.Sprintf("full must be \"drop_oldest\" or \"block\"; got %q.", v))
			}
		}
	}
	if a, ok := content.Attributes["max_bytes"]; ok {
		if v, ok := l.stringAttr(a); ok {
			n, err := ParseBytes(v)
			switch {
			case err != nil:
				l.invalid(a, "Invalid max_bytes", err.Error())
			case n < 1<<20 || n > maxQueueBytes:
				l.invalid(a, "Invalid max_bytes", fmt.Sprintf("max_bytes must be between 1MiB and 1TiB; got %q.", v))
			default:
				q.MaxBytes = n
			}
		}
	}
	if a, ok := content.Attributes["sync_interval"]; ok {
		if v, ok := l.stringAttr(a); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > time.Minute {
				l.invalid(a, "Invalid sync_interval", fmt.Sprintf("sync_interval must be a duration from \"0s\" (fsync every batch) to \"1m\"; got %q.", v))
			} else {
				q.SyncInterval = d
			}
		}
	}
	return q
}

func (l *loader) invalid(a *hcl.Attribute, summary, detail string) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.Expr.Range().Ptr(),
	})
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseBytes parses a size such as "512MiB", "1GiB", "10GB" or "4096".
func ParseBytes(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size; write e.g. \"512MiB\" or \"1GiB\"", s)
	}
	return n * mult, nil
}
