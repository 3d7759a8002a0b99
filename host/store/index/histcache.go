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
// transaction that may have changed a resource's metadata history ends:
// drop removes the answers of the resources it touched, invalidate all of
// them (each moves gen on). A reader takes the generation before its read
// transaction begins and stores its answer only if its resource's answer
// was not dropped since (dropped, floor), so no answer older than the last
// commit that touched its resource is kept.
type historyCache struct {
	mu  sync.Mutex
	gen uint64
	// floor is the oldest generation whose readers may still store an
	// answer: invalidate raises it to gen, and so does drop when dropped
	// would grow past maxDroppedIDs (it then starts over).
	floor uint64
	// dropped[id] is the generation at which id's answer was last
	// dropped, for the readers that began before.
	dropped map[string]uint64
	m       map[string][]Version
	bytes   int // historySize of the answers in m
}

// maxDroppedIDs bounds historyCache.dropped: past it, the readers in
// flight lose their answers (not the cache its entries).
const maxDroppedIDs = 1 << 14

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
	if gen < c.floor || c.dropped[id] > gen {
		return
	}
	if c.m == nil {
		c.m = make(map[string][]Version)
	}
	c.remove(id)
	size := historySize(id, vs)
	if size > maxCachedHistoryBytes {
		return
	}
	for k := range c.m { // at random: a larger working set still hits
		if c.bytes+size <= maxCachedHistoryBytes {
			break
		}
		c.remove(k)
	}
	c.m[id] = vs
	c.bytes += size
}

// remove deletes id's answer. Called with mu held.
func (c *historyCache) remove(id string) {
	if old, ok := c.m[id]; ok {
		c.bytes -= historySize(id, old)
		delete(c.m, id)
	}
}

// drop removes the answers of ids; called after each write transaction
// that may have changed their metadata histories, committed or not.
func (c *historyCache) drop(ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if len(c.dropped)+len(ids) > maxDroppedIDs {
		c.floor, c.dropped = c.gen, nil
	}
	for _, id := range ids {
		c.remove(id)
		if c.floor < c.gen {
			if c.dropped == nil {
				c.dropped = make(map[string]uint64)
			}
			c.dropped[id] = c.gen
		}
	}
}

// invalidate drops every answer; called after each write transaction
// that may have changed metadata histories it cannot name.
func (c *historyCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.floor = c.gen
	c.m, c.dropped, c.bytes = nil, nil, 0
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
