package export

import "sync"

// Cache keeps the last few built exports by ETag, so the many range
// requests a player makes while seeking share one build, and concurrent
// requests for one export wait for one build instead of each reading
// every moof.
type Cache struct {
	mu      sync.Mutex
	size    int
	entries []*cacheEntry // oldest first
}

type cacheEntry struct {
	etag string
	once sync.Once
	e    *Export
	err  error
}

// NewCache keeps up to size exports.
func NewCache(size int) *Cache { return &Cache{size: max(size, 1)} }

// Build returns the export of p, built once per ETag while it is cached.
// A failed build is not kept.
func (c *Cache) Build(p *Plan) (*Export, error) {
	ent := c.entry(p.ETag)
	ent.once.Do(func() { ent.e, ent.err = Build(p) })
	if ent.err != nil {
		c.drop(ent)
	}
	return ent.e, ent.err
}

func (c *Cache) entry(etag string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ent := range c.entries {
		if ent.etag == etag {
			return ent
		}
	}
	ent := &cacheEntry{etag: etag}
	if len(c.entries) == c.size {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, ent)
	return ent
}

func (c *Cache) drop(ent *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.entries {
		if x == ent {
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
			return
		}
	}
}
