// Package ratelimit keeps provider calls under the provider's quota, and
// close to it: one limit shared by every worker process through Redis that
// hands each call an exact slot, and optionally a token bucket in each
// process (golang.org/x/time/rate).
//
// The shared limit reserves: one script call (GCRA on Redis's clock) tells a
// caller when its call may go, and the caller sleeps until then. There is no
// polling, so no slot is lost between a refusal and the next ask, and a
// reservation costs one round trip. Slots are spaced 1/Rate apart, less a
// little headroom (Config.Headroom) that keeps a provider's strict sliding
// one-second window free of refusals despite network jitter.
//
// Signups go first while they wait, and bulk jobs take every slot
// otherwise: a bulk caller reserves only when no other bulk caller of its
// process holds a reservation still to come, so at most one bulk slot per
// process lies ahead of a signup that arrives; a signup reserves at once.
//
// Waiting for a slot is not a failure: Wait blocks until the call may go or
// the context ends, and a reservation given up with the context is handed
// back when nothing was reserved after it.
package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// DefaultKey names the shared limit in Redis when Config.Key is empty.
const DefaultKey = "realname:provider:tencent-v2"

// DefaultHeadroom is the share of Rate the shared limit leaves unused by
// default: at 200/s, slots come every 5.08 ms instead of 5 ms, so that a
// call delayed by up to 15 ms on its way (1.5% of a second, whatever the
// rate) cannot make 201 in the provider's sliding second.
const DefaultHeadroom = 0.015

// Config configures a Limiter.
type Config struct {
	// Rate is the number of calls per second allowed across all processes
	// sharing Key. Zero disables the shared limit.
	Rate int
	// Burst is how many calls the shared limit lets through at once after a
	// quiet spell. Defaults to 1, which spreads calls evenly: never more
	// than Rate in any one-second window.
	Burst int
	// Headroom is the share of Rate left unused, against jitter between
	// the slot and the call's arrival at the provider. Defaults to
	// DefaultHeadroom (1.5%); set a negative value for none.
	Headroom float64
	// LocalRate caps the calls per second of this process alone. Defaults
	// to 0: no local cap (the shared limit holds across processes).
	LocalRate float64
	// LocalBurst is the local bucket's size. Defaults to 1.
	LocalBurst int
	// Key names the shared limit in Redis. Defaults to DefaultKey.
	Key string
}

// Priority says who goes first when calls wait.
type Priority int

// The priorities.
const (
	// Signup calls reserve at once: a person is waiting.
	Signup Priority = iota
	// Bulk calls take every slot no signup takes.
	Bulk
)

// Limiter grants provider calls. It is safe for concurrent use.
type Limiter struct {
	rdb      redis.UniversalClient
	local    *rate.Limiter
	key      string
	interval time.Duration // between shared slots; 0: no shared limit
	burst    int
	// bulkTurn is held by the one bulk caller of this process whose
	// reservation is still to come.
	bulkTurn chan struct{}
}

// New returns a Limiter. rdb may be nil when cfg.Rate is zero.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if cfg.Rate < 0 || cfg.LocalRate < 0 || cfg.Burst < 0 {
		return nil, errors.New("ratelimit: rates and burst must not be negative")
	}
	if cfg.Headroom >= 0.5 || math.IsNaN(cfg.Headroom) {
		return nil, errors.New("ratelimit: headroom must be below 0.5")
	}
	headroom := cfg.Headroom
	switch {
	case headroom == 0:
		headroom = DefaultHeadroom
	case headroom < 0:
		headroom = 0
	}
	l := &Limiter{rdb: rdb, key: cmp.Or(cfg.Key, DefaultKey), burst: cmp.Or(cfg.Burst, 1), bulkTurn: make(chan struct{}, 1)}
	if cfg.LocalRate > 0 {
		l.local = rate.NewLimiter(rate.Limit(cfg.LocalRate), cmp.Or(cfg.LocalBurst, 1))
	}
	if cfg.Rate > 0 {
		if rdb == nil {
			return nil, errors.New("ratelimit: a shared rate needs a Redis client")
		}
		l.interval = time.Duration(float64(time.Second) / (float64(cfg.Rate) * (1 - headroom)))
	}
	return l, nil
}

// Interval returns the time between two slots of the shared limit; 0 when
// there is none.
func (l *Limiter) Interval() time.Duration { return l.interval }

// Wait blocks until a signup call may go, and returns how long it waited.
// It returns early with the context's error.
func (l *Limiter) Wait(ctx context.Context) (time.Duration, error) {
	return l.WaitPriority(ctx, Signup)
}

// WaitPriority blocks until a call of priority p may go, and returns how
// long it waited. It returns early with the context's error; a slot
// reserved for it is then handed back if no later one was reserved.
func (l *Limiter) WaitPriority(ctx context.Context, p Priority) (time.Duration, error) {
	start := time.Now()
	if l.local != nil {
		if err := l.local.Wait(ctx); err != nil {
			return time.Since(start), fmt.Errorf("ratelimit: local wait: %w", err)
		}
	}
	if l.interval == 0 {
		return time.Since(start), nil
	}
	if p == Bulk {
		// One bulk reservation per process at a time: a signup arriving
		// finds at most that one ahead of it.
		select {
		case l.bulkTurn <- struct{}{}:
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		}
		defer func() { <-l.bulkTurn }()
	}
	wait, tat, err := l.reserve(ctx)
	if err != nil {
		return time.Since(start), fmt.Errorf("ratelimit: shared limit: %w", err)
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			l.unreserve(tat)
			return time.Since(start), ctx.Err()
		}
	}
	return time.Since(start), nil
}

// reserveScript reserves the next slot of a GCRA limit kept as its
// theoretical arrival time (TAT, microseconds of Redis's clock) in
// KEYS[1]. ARGV: the interval and the burst. It returns how long the
// caller waits for its slot (µs) and the new TAT, by which the
// reservation can be handed back.
var reserveScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local newtat = tat + interval
local slot = newtat - burst * interval
if slot < now then slot = now end
local s = string.format('%.0f', newtat)
redis.call('SET', KEYS[1], s, 'PX', math.ceil((newtat - now) / 1000) + 1000)
return {math.floor(slot - now), s}
`)

// unreserveScript hands a reservation back when it is still the latest:
// the TAT in KEYS[1] is ARGV[1], which moves back by ARGV[2].
var unreserveScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], string.format('%.0f', tonumber(ARGV[1]) - tonumber(ARGV[2])), 'KEEPTTL')
  return 1
end
return 0
`)

func (l *Limiter) reserve(ctx context.Context) (time.Duration, string, error) {
	us := l.interval.Microseconds()
	res, err := reserveScript.Run(ctx, l.rdb, []string{l.key}, us, l.burst).Slice()
	if err != nil {
		return 0, "", err
	}
	if len(res) != 2 {
		return 0, "", fmt.Errorf("reserve: unexpected reply %v", res)
	}
	wait, _ := res[0].(int64)
	tat, _ := res[1].(string)
	return time.Duration(wait) * time.Microsecond, tat, nil
}

// unreserve hands back the reservation that moved the TAT to tat, if no
// later one was made; best effort.
func (l *Limiter) unreserve(tat string) {
	if tat == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = unreserveScript.Run(ctx, l.rdb, []string{l.key}, tat, strconv.FormatInt(l.interval.Microseconds(), 10)).Err()
}
