// Package cache answers a verification from an earlier one of the same
// kind and identity within a configured period, so that re-verifying a user
// base twice in a week does not pay twice.
//
// Its keys are keyed hashes (HMAC-SHA256 with a configured secret) of the
// normalised identity, never the identity itself: someone who reads Redis
// cannot look a person up without the secret.
package cache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/task"
)

// Entry is a cached definitive answer.
type Entry struct {
	Class    string    `json:"class"`
	Provider string    `json:"provider,omitempty"`
	Action   string    `json:"action,omitempty"`
	AuthCode string    `json:"authCode,omitempty"`
	Message  string    `json:"message,omitempty"`
	At       time.Time `json:"at"`
}

// Config configures a Cache.
type Config struct {
	// Secret keys the hashes. Required, at least 16 bytes.
	Secret []byte
	// TTL is how long an answer is reused. Required, positive.
	TTL time.Duration
}

// Cache stores answers in Redis under keyed hashes.
type Cache struct {
	rdb    redis.UniversalClient
	secret []byte
	ttl    time.Duration
}

// New returns a Cache.
func New(rdb redis.UniversalClient, cfg Config) (*Cache, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("cache: the secret must be at least 16 bytes")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("cache: TTL must be positive")
	}
	return &Cache{rdb: rdb, secret: cfg.Secret, ttl: cfg.TTL}, nil
}

// Key returns the cache key of a verification: a keyed hash of its kind and
// normalised identity (the parsers normalised it), not the order number.
func (c *Cache) Key(v task.Verification) string {
	mac := hmac.New(sha256.New, c.secret)
	// A separator that cannot occur in the normalised values keeps
	// ("ab","c") and ("a","bc") apart.
	for _, part := range []string{string(v.Kind), v.Name.Reveal(), v.IDNumber.Reveal(), v.Phone.Reveal(), v.BankCard.Reveal()} {
		mac.Write([]byte(part))
		mac.Write([]byte{0})
	}
	return "realname:cache:" + hex.EncodeToString(mac.Sum(nil))
}

// Get returns the cached answer for v, or false.
func (c *Cache) Get(ctx context.Context, v task.Verification) (*Entry, bool, error) {
	b, err := c.rdb.Get(ctx, c.Key(v)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache: get: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, false, fmt.Errorf("cache: decode: %w", err)
	}
	return &e, true, nil
}

// Put stores a definitive answer for v for the cache's TTL.
func (c *Cache) Put(ctx context.Context, v task.Verification, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := c.rdb.Set(ctx, c.Key(v), b, c.ttl).Err(); err != nil {
		return fmt.Errorf("cache: put: %w", err)
	}
	return nil
}
