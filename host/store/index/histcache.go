package index

import (
	"maps"
	"sync"
)

// maxCachedHistories bounds historyCache: past it, each new answer evicts
// one at random.
const maxCachedHistories = 8192

// historyCache keeps History's answers per resource_id until a write
// transaction that may have changed a metadata history ends (gen moves on
// and the answers go). A reader takes the generation before its read
// transaction begins and stores its answer only if the generation has not
// moved since, so no answer older than the last such commit is kept.
type historyCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string][]Version
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
	if len(c.m) >= maxCachedHistories {
		for k := range c.m { // one at random: a larger working set still hits
			delete(c.m, k)
			break
		}
	}
	c.m[id] = vs
}

// invalidate drops every answer; called after each write transaction that
// may have changed a metadata history, committed or not.
func (c *historyCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.m = nil
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
