package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

const (
	formatJSONL  = "jsonl"
	formatInflux = "influx"
	warnEvery    = 1000
)

type config struct {
	Path       string `hcl:"path" desc:"file to append to; parent directories are created"`
	Format     string `hcl:"format,optional" desc:"\"jsonl\" (Ceilometer JSON, one object per line) or \"influx\" (line protocol)"`
	MaxBytes   int64  `hcl:"max_bytes,optional" desc:"rotate once the file would grow past this many bytes; 0 never rotates"`
	MaxBackups int    `hcl:"max_backups,optional" desc:"rotated files kept as path.1 (newest) .. path.N; 0 keeps none"`
	Fsync      bool   `hcl:"fsync,optional" desc:"fsync after each batch before reporting it accepted"`
}

func defaultConfig() config {
	return config{Format: formatJSONL, MaxBytes: 100 << 20, MaxBackups: 5}
}

type file struct {
	cfg config
	log hclog.Logger

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  bytes.Buffer // jsonl
	raw  []byte       // influx
	jenc *json.Encoder
	ienc influx.Encoder

	skippedEvents  uint64
	skippedSamples uint64
}

var _ publisher.Publisher = (*file)(nil)

func newFile(c config, log hclog.Logger) (*file, error) {
	var errs []error
	if c.Path == "" {
		errs = append(errs, schema.AttrError("path", "must be a file path"))
	}
	if c.Format != formatJSONL && c.Format != formatInflux {
		errs = append(errs, schema.AttrError("format", "must be \"jsonl\" or \"influx\""))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, schema.AttrError("max_bytes", "must be 0 (never rotate) or a positive size in bytes"))
	}
	if c.MaxBackups < 0 || c.MaxBackups > 1000 {
		errs = append(errs, schema.AttrError("max_backups", "must be between 0 and 1000"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := &file{cfg: c, log: log}
	p.jenc = json.NewEncoder(&p.buf)
	p.jenc.SetEscapeHTML(false)
	return p, nil
}

// Publish encodes the whole batch into one buffer and writes it with a
// single write; it returns nil only once the write (and fsync, when
// configured) succeeded. Any I/O error asks the host to retry.
func (p *file) Publish(ctx context.Context, b *sample.Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Reset()
	p.raw = p.raw[:0]
	data, err := p.encode(b)
	if err != nil {
		return publisher.Reject(err)
	}
	if len(data) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return publisher.Retry(err)
	}
	if err := p.write(data); err != nil {
		return publisher.Retry(err)
	}
	if p.buf.Cap() > 64<<20 || cap(p.raw) > 64<<20 { // do not pin a huge buffer after an outsized batch
		p.buf = bytes.Buffer{}
		p.jenc = json.NewEncoder(&p.buf)
		p.jenc.SetEscapeHTML(false)
		p.raw = nil
	}
	return nil
}

func (p *file) encode(b *sample.Batch) ([]byte, error) {
	switch p.cfg.Format {
	case formatInflux:
		out := p.raw
		for i := range b.Samples {
			n := len(out)
			out = p.ienc.Append(out, &b.Samples[i])
			if len(out) == n {
				p.skipped(&p.skippedSamples, "skipped sample line protocol cannot carry", "name", b.Samples[i].Name)
			}
		}
		p.raw = out
		for range b.Events {
			p.skipped(&p.skippedEvents, "skipped event (influx format carries samples only)")
		}
		return out, nil
	default:
		for i := range b.Samples {
			s := &b.Samples[i]
			if math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
				p.skipped(&p.skippedSamples, "skipped sample with non-finite volume", "name", s.Name)
				continue
			}
			if err := p.jenc.Encode(sample.ToCeilometer(s)); err != nil {
				return nil, fmt.Errorf("encode sample %s: %w", s.Name, err)
			}
		}
		for i := range b.Events {
			if err := p.jenc.Encode(eventJSON(&b.Events[i])); err != nil {
				return nil, fmt.Errorf("encode event %s: %w", b.Events[i].MessageID, err)
			}
		}
		return p.buf.Bytes(), nil
	}
}

func (p *file) skipped(c *uint64, msg string, kv ...any) {
	*c++
	if *c == 1 || *c%warnEvery == 0 {
		p.log.Warn(msg, append(kv, "count", *c)...)
	}
}

type traitJSON struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type eventMsg struct {
	EventType string      `json:"event_type"`
	MessageID string      `json:"message_id"`
	Generated string      `json:"generated"`
	Traits    []traitJSON `json:"traits"`
}

func eventJSON(e *sample.Event) eventMsg {
	m := eventMsg{EventType: e.EventType, MessageID: e.MessageID, Traits: make([]traitJSON, 0, len(e.Traits))}
	if !e.Generated.IsZero() {
		m.Generated = sample.FormatISOTime(e.Generated)
	}
	for _, t := range e.Traits {
		tj := traitJSON{Name: t.Name, Type: t.Type.String()}
		switch t.Type {
		case sample.TraitInt:
			tj.Value = t.Int
		case sample.TraitFloat:
			if math.IsNaN(t.Float) || math.IsInf(t.Float, 0) {
				tj.Value = strconv.FormatFloat(t.Float, 'g', -1, 64)
			} else {
				tj.Value = t.Float
			}
		case sample.TraitDatetime:
			tj.Value = sample.FormatISOTime(t.Datetime)
		default:
			tj.Value = t.Text
		}
		m.Traits = append(m.Traits, tj)
	}
	return m
}

// write appends data, opening the file and rotating it first as needed. A
// failed write is cut back off the file so a retry does not leave a torn
// line, and the file is reopened on the next call.
func (p *file) write(data []byte) error {
	if p.f == nil {
		if err := p.open(); err != nil {
			return err
		}
	}
	if p.cfg.MaxBytes > 0 && p.size > 0 && p.size+int64(len(data)) > p.cfg.MaxBytes {
		if err := p.rotate(); err != nil {
			return err
		}
	}
	n, err := p.f.Write(data)
	if err == nil && p.cfg.Fsync {
		if err = p.f.Sync(); err != nil {
			err = fmt.Errorf("fsync %s: %w", p.cfg.Path, err)
		}
	} else if err != nil {
		err = fmt.Errorf("write %s: %w", p.cfg.Path, err)
	}
	if err != nil {
		if n > 0 {
			_ = p.f.Truncate(p.size)
		}
		_ = p.f.Close()
		p.f = nil
		return err
	}
	p.size += int64(n)
	return nil
}

func (p *file) open() error {
	if err := os.MkdirAll(filepath.Dir(p.cfg.Path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", p.cfg.Path, err)
	}
	f, err := os.OpenFile(p.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", p.cfg.Path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", p.cfg.Path, err)
	}
	p.f, p.size = f, st.Size()
	return nil
}

// rotate renames path to path.1, path.1 to path.2 and so on, dropping
// path.N (N = max_backups), and starts a new file.
func (p *file) rotate() error {
	if err := p.f.Close(); err != nil {
		p.log.Warn("close before rotation", "path", p.cfg.Path, "error", err)
	}
	p.f = nil
	path, n := p.cfg.Path, p.cfg.MaxBackups
	if n == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", path, err)
		}
		return p.open()
	}
	backup := func(i int) string { return path + "." + strconv.Itoa(i) }
	if err := os.Remove(backup(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate %s: %w", path, err)
	}
	for i := n - 1; i >= 1; i-- {
		if err := os.Rename(backup(i), backup(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", path, err)
		}
	}
	if err := os.Rename(path, backup(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate %s: %w", path, err)
	}
	p.log.Debug("rotated", "path", path)
	return p.open()
}

// Close syncs and closes the file. It is safe to call twice and without
// any Publish.
func (p *file) Close(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return nil
	}
	f := p.f
	p.f = nil
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("close %s: %w", p.cfg.Path, err)
	}
	return nil
}

// Counters implements base.CounterReporter.
func (p *file) Counters() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return map[string]uint64{"skipped_samples": p.skippedSamples, "skipped_events": p.skippedEvents}
}
