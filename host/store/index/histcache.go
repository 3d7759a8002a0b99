package index

import (
	"maps"
	"sync"
)

// maxCachedHistoryBytes bounds historyCache by the estimated memory of its
// answers (historySize), not by their number: a count would be either too
// small for a deployment's resources (every listing then misses) or
// unbounded in memory for resources with large metadata. At about 300
// bytes for a resource with one version of a few keys, 32 MiB holds some
// 100,000 resources. Past it, each new answer evicts others at random.
const maxCachedHistoryBytes = 32 << 20

// historySize estimates the memory of an answer cached under id: the
// strings, and fixed costs per entry, version and map pair.
func historySize(id string, vs []Version) int {
	n := 64 + len(id) // map entry and slice header
	for _, v := range vs {
		n += 48 + 48 // Version, map header
		for k, x := range v.Metadata {
			n += 32 + len(k) + len(x) // two string headers, bucket share
		}
	}
	return n
}

// historyCache keeps History's answers per resource_id until a write
// transaction that may have changed a metadata history ends (gen moves on
// and the answers go). A reader takes the generation before its read
// transaction begins and stores its answer only if the generation has not
// moved since, so no answer older than the last such commit is kept.
type historyCache struct {
	mu    sync.Mutex
	gen   uint64
	m     map[string][]Version
	bytes int // historySize of the answers in m
}

// get returns a copy of the cached history of id, and the generation a
// reader that misses must pass to put.
func (c *historyCache) get(id string) ([]Version, uint64, bool) {
	c.mu.Lock()
	vs, ok := c.m[id]
	gen := c.gen
	c.mu.Unlock()
	if !ok {
		return nil, gen, false
	}
	return copyVersions(vs), gen, true
}

// put caches a copy of vs, read in a transaction that began after get
// returned gen.
func (c *historyCache) put(id string, gen uint64, vs []Version) {
	vs = copyVersions(vs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil {
		c.m = make(map[string][]Version)
	}
	if old, ok := c.m[id]; ok {
		c.bytes -= historySize(id, old)
		delete(c.m, id)
	}
	size := historySize(id, vs)
	if size > maxCachedHistoryBytes {
		return
	}
	for k, old := range c.m { // at random: a larger working set still hits
		if c.bytes+size <= maxCachedHistoryBytes {
			break
		}
		c.bytes -= historySize(k, old)
		delete(c.m, k)
	}
	c.m[id] = vs
	c.bytes += size
}

// invalidate drops every answer; called after each write transaction that
// may have changed a metadata history, committed or not.
func (c *historyCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.m, c.bytes = nil, 0
	c.mu.Unlock()
}

// copyVersions copies vs and their metadata maps: callers own what History
// returns.
func copyVersions(vs []Version) []Version {
	out := make([]Version, len(vs))
	for i, v := range vs {
		out[i] = Version{From: v.From, To: v.To, Metadata: maps.Clone(v.Metadata)}
	}
	return out
}
