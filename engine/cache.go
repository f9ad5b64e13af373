package engine

import (
	"context"
	"sync"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/rule"
)

// configCache keeps the configuration, and rules compiled from it, for as
// long as its version stays the same: workers look at both for every
// revocation, and reading the version is much cheaper than reading and
// decoding the configuration and compiling CEL.
type configCache struct {
	mu    sync.Mutex
	ver   int64
	ok    bool
	cfg   config.Config
	rules map[string]*rule.Compiled
}

// config returns the current configuration and its version. The result is
// shared: callers must not change it.
func (e *Engine) config(ctx context.Context) (config.Config, int64, error) {
	ver, err := e.st.ConfigVersion(ctx)
	if err != nil {
		return config.Config{}, 0, err
	}
	c := &e.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.ver == ver {
		return c.cfg, c.ver, nil
	}
	cfg, ver, err := e.st.Config(ctx)
	if err != nil {
		return config.Config{}, 0, err
	}
	c.cfg, c.ver, c.ok, c.rules = cfg, ver, true, map[string]*rule.Compiled{}
	return cfg, ver, nil
}

// compiled returns a rule of the configuration of version ver compiled, from
// the cache when it can. A URL hook of a cached rule runs with its own
// timeout, not the caller's context, since the rule outlives the call.
func (e *Engine) compiled(cfg config.Config, ver int64, r config.Rule) (*rule.Compiled, error) {
	c := &e.cache
	c.mu.Lock()
	if c.ok && c.ver == ver {
		if cr, ok := c.rules[r.ID]; ok {
			c.mu.Unlock()
			return cr, nil
		}
	}
	c.mu.Unlock()
	cr, err := e.compileRule(context.Background(), cfg, r)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.ok && c.ver == ver {
		c.rules[r.ID] = cr
	}
	c.mu.Unlock()
	return cr, nil
}
