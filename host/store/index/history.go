package index

import "math"

// openTo is the in-memory end of the current (open) metadata version; the
// database stores NULL.
const openTo = math.MaxInt64

// version is one metadata version of a resource: md was valid in
// [from, to). seen is an upper bound of the times of the samples known to
// carry it: exact for versions closed in order, conservative (just before a
// split point) after an out-of-order split. For the open version it is the
// resource's last sample time. The algorithm below keeps one invariant:
// every sample ever applied at time s with metadata m finds m in the version
// valid at s, unless a later update at exactly s carried other metadata
// (the later write wins).
type version struct {
	from, to int64
	seen     int64
	hash     uint64
	md       map[string]string
}

// applyVersion applies an update at t with metadata md (hash h) to the
// versions vs (sorted by from, contiguous, the last one open) and returns
// the new list; vs may be modified in place. The open version's seen must be
// the resource's last sample time before this update.
func applyVersion(vs []version, t int64, h uint64, md map[string]string) []version {
	if len(vs) == 0 {
		return []version{{from: t, to: openTo, seen: t, hash: h, md: md}}
	}
	i := -1
	for j := range vs { // versions per resource are few; a linear scan is fine
		if vs[j].from > t {
			break
		}
		i = j
	}
	if i < 0 { // before the first version: nothing was seen in [t, vs[0].from)
		if vs[0].hash == h {
			vs[0].from = t
			return vs
		}
		return mergeVersions(insertVersions(vs, 0, version{from: t, to: vs[0].from, seen: t, hash: h, md: md}))
	}
	v := vs[i]
	switch {
	case v.hash == h: // confirms v
		if t > v.seen {
			vs[i].seen = t
		}
		return vs
	case t > v.seen: // after every sample of v: the new version takes the rest of v
		vs[i].to = t
		return mergeVersions(insertVersions(vs, i+1, version{from: t, to: v.to, seen: t, hash: h, md: md}))
	case t == v.from && v.seen == v.from: // v was only seen at t: the later write wins
		vs[i].hash, vs[i].md = h, md
		return mergeVersions(vs)
	}
	// t is inside the span in which v was seen: split v around t. Samples of
	// v may lie anywhere in [v.from, t) and (t, v.seen], so the new version
	// covers t alone unless t is v's last sighting.
	var parts []version
	if t > v.from {
		parts = append(parts, version{from: v.from, to: t, seen: t - 1, hash: v.hash, md: v.md})
	}
	if t < v.seen {
		parts = append(parts,
			version{from: t, to: t + 1, seen: t, hash: h, md: md},
			version{from: t + 1, to: v.to, seen: v.seen, hash: v.hash, md: v.md})
	} else {
		parts = append(parts, version{from: t, to: v.to, seen: t, hash: h, md: md})
	}
	out := make([]version, 0, len(vs)+2)
	out = append(out, vs[:i]...)
	out = append(out, parts...)
	out = append(out, vs[i+1:]...)
	return mergeVersions(out)
}

func insertVersions(vs []version, at int, v version) []version {
	vs = append(vs, version{})
	copy(vs[at+1:], vs[at:])
	vs[at] = v
	return vs
}

// mergeVersions joins neighbours with the same metadata.
func mergeVersions(vs []version) []version {
	out := vs[:0]
	for _, v := range vs {
		if n := len(out); n > 0 && out[n-1].hash == v.hash {
			out[n-1].to = v.to
			out[n-1].seen = max(out[n-1].seen, v.seen)
			continue
		}
		out = append(out, v)
	}
	return out
}

// versionAt returns the index of the version valid at t, or -1.
func versionAt(vs []version, t int64) int {
	for i, v := range vs {
		if v.from <= t && t < v.to {
			return i
		}
	}
	return -1
}

// metadataHash is an order-independent 64-bit hash of md, stable across
// processes (it is stored): the sum of a mixed FNV-1a hash of each key and
// value pair. It needs no sorting and no allocation.
func metadataHash(md map[string]string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	sum := uint64(len(md)) * 0x9e3779b97f4a7c15
	for k, v := range md {
		h := uint64(offset)
		for i := 0; i < len(k); i++ {
			h = (h ^ uint64(k[i])) * prime
		}
		h = (h ^ 0xff) * prime // separator: no byte of UTF-8 text is 0xff
		for i := 0; i < len(v); i++ {
			h = (h ^ uint64(v[i])) * prime
		}
		// splitmix64 finaliser, so that sums of pair hashes do not cancel.
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
		sum += h
	}
	return sum
}
