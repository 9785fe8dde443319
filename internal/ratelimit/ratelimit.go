// Package ratelimit keeps provider calls under the provider's quota: a token
// bucket in each process (golang.org/x/time/rate) and one GCRA limit shared
// by every worker process through Redis (github.com/go-redis/redis_rate), so
// that three workers configured for 50 calls/s make 50 calls/s together.
//
// Waiting for a token is not a failure: Wait blocks until both limiters
// grant a call or the context ends.
package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// DefaultKey names the shared limit in Redis when Config.Key is empty.
const DefaultKey = "realname:provider:tencent-v2"

// Config configures a Limiter.
type Config struct {
	// Rate is the number of calls per second allowed across all processes
	// sharing Key. Zero disables the shared limit.
	Rate int
	// Burst is how many calls the shared limit lets through at once after a
	// quiet spell. Defaults to 1, which spreads calls evenly: at most Rate+1
	// in any one-second window.
	Burst int
	// LocalRate is the number of calls per second this process allows
	// itself. Defaults to Rate; zero with Rate zero means unlimited.
	LocalRate float64
	// LocalBurst is the local bucket's size. Defaults to 1.
	LocalBurst int
	// Key names the shared limit in Redis. Defaults to
	// "realname:provider:tencent-v2".
	Key string
}

// Limiter grants provider calls. It is safe for concurrent use.
type Limiter struct {
	local  *rate.Limiter
	shared *redis_rate.Limiter
	limit  redis_rate.Limit
	key    string
}

// New returns a Limiter. rdb may be nil when cfg.Rate is zero.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if cfg.Rate < 0 || cfg.LocalRate < 0 {
		return nil, errors.New("ratelimit: rates must not be negative")
	}
	l := &Limiter{key: cmp.Or(cfg.Key, DefaultKey)}
	local := cmp.Or(cfg.LocalRate, float64(cfg.Rate))
	if local > 0 {
		l.local = rate.NewLimiter(rate.Limit(local), cmp.Or(cfg.LocalBurst, 1))
	}
	if cfg.Rate > 0 {
		if rdb == nil {
			return nil, errors.New("ratelimit: a shared rate needs a Redis client")
		}
		l.shared = redis_rate.NewLimiter(rdb)
		l.limit = redis_rate.Limit{Rate: cfg.Rate, Burst: cmp.Or(cfg.Burst, 1), Period: time.Second}
	}
	return l, nil
}

// Wait blocks until a call is allowed by the local and the shared limit, and
// returns how long it waited. It returns early with the context's error.
func (l *Limiter) Wait(ctx context.Context) (time.Duration, error) {
	return l.WaitYielding(ctx, nil)
}

// WaitYielding is Wait for a caller of lower priority: while yield reports
// true, it does not ask for a shared token, so that waiters of higher
// priority in this process get the next one.
func (l *Limiter) WaitYielding(ctx context.Context, yield func() bool) (time.Duration, error) {
	start := time.Now()
	if l.local != nil {
		if err := l.local.Wait(ctx); err != nil {
			return time.Since(start), fmt.Errorf("ratelimit: local wait: %w", err)
		}
	}
	if l.shared == nil {
		return time.Since(start), nil
	}
	interval := time.Second / time.Duration(l.limit.Rate)
	for {
		if yield != nil && yield() {
			t := time.NewTimer(interval/4 + time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return time.Since(start), ctx.Err()
			case <-t.C:
			}
			continue
		}
		res, err := l.shared.Allow(ctx, l.key, l.limit)
		if err != nil {
			return time.Since(start), fmt.Errorf("ratelimit: shared limit: %w", err)
		}
		if res.Allowed > 0 {
			return time.Since(start), nil
		}
		// Every waiter is told the same RetryAfter; a little jitter keeps
		// them from all asking Redis again in the same instant.
		d := res.RetryAfter + rand.N(interval/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Since(start), ctx.Err()
		case <-t.C:
		}
	}
}
