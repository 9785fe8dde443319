package sandbox

import "time"

// nonceKey identifies a Nonce: nonces are per SecretId. nonce is the v2
// Nonce, or in the Alibaba Cloud cache the FNV-64a hash of a SignatureNonce
// (8 bytes instead of a 36-byte UUID; a collision would refuse one request).
type nonceKey struct {
	secretID string
	nonce    uint64
}

// nonceCache remembers each Nonce for window after its first use. It keeps two
// generations of window length each and drops the older one wholesale when a
// new generation starts, so memory is bounded by the nonces of the last two
// windows and pruning costs nothing per request.
type nonceCache struct {
	window    time.Duration
	cur, prev map[nonceKey]time.Time
	started   time.Time // when cur began
}

func newNonceCache(window time.Duration, now time.Time) nonceCache {
	return nonceCache{
		window:  window,
		cur:     make(map[nonceKey]time.Time),
		prev:    make(map[nonceKey]time.Time),
		started: now,
	}
}

// use records a Nonce and reports whether it was already used within the
// window.
func (c *nonceCache) use(k nonceKey, now time.Time) (replayed bool) {
	if age := now.Sub(c.started); age >= c.window {
		if age >= 2*c.window {
			// Everything in cur is older than the window too.
			clear(c.cur)
		}
		c.prev, c.cur = c.cur, c.prev
		clear(c.cur)
		c.started = now
	}
	for _, m := range [...]map[nonceKey]time.Time{c.cur, c.prev} {
		if t, ok := m[k]; ok && now.Sub(t) < c.window {
			return true
		}
	}
	c.cur[k] = now
	return false
}

// len returns the number of remembered nonces.
func (c *nonceCache) len() int { return len(c.cur) + len(c.prev) }
