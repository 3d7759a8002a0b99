package pluginmgr

import (
	"bytes"
	"sync"
)

const (
	tailLines   = 20
	maxLineSize = 2048
)

// tail keeps the last tailLines lines a plugin wrote to stderr, across
// restarts, for the crash-loop error.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	if len(line) > maxLineSize {
		line = line[:maxLineSize] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == tailLines {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:tailLines-1]
	}
	t.lines = append(t.lines, line)
}

func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// lineWriter splits what is written to it into lines and calls fn for each
// complete, non-empty line. go-plugin writes each stderr line and its
// newline in separate calls, so partial lines are buffered.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	fn      func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(w.partial) < maxLineSize {
				w.partial = append(w.partial, p...)
			}
			break
		}
		line := append(w.partial, p[:i]...)
		w.partial = w.partial[:0]
		if s := string(bytes.TrimRight(line, "\r")); s != "" {
			w.fn(s)
		}
		p = p[i+1:]
	}
	return n, nil
}
