// Package apikey issues, checks and revokes the API keys of the HTTP API.
//
// A key is shown once, when it is created: "rn_" + its ID + "_" + a
// 32-byte random secret. Only a SHA-256 hash of the secret is stored (a
// fast hash is right for a high-entropy random secret; a password hash
// would only slow every request). Each key has scopes: enqueue, read,
// admin; admin implies the others.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scope is a permission of a key.
type Scope string

// The scopes.
const (
	// ScopeEnqueue may create verifications and batches and cancel batches.
	ScopeEnqueue Scope = "enqueue"
	// ScopeRead may read verifications, batches and results, and view the
	// dashboard.
	ScopeRead Scope = "read"
	// ScopeAdmin may do everything: replay webhooks, act in the dashboard.
	ScopeAdmin Scope = "admin"
)

// ParseScopes parses a comma-separated list of scopes.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, p := range strings.Split(s, ",") {
		switch sc := Scope(strings.TrimSpace(p)); sc {
		case ScopeEnqueue, ScopeRead, ScopeAdmin:
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		case "":
		default:
			return nil, fmt.Errorf("unknown scope %q: want enqueue, read or admin", sc)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("at least one scope is required: enqueue, read or admin")
	}
	return out, nil
}

// Errors of Authenticate.
var (
	// ErrInvalid: the token is malformed, unknown or wrong.
	ErrInvalid = errors.New("apikey: invalid API key")
	// ErrRevoked: the key was revoked.
	ErrRevoked = errors.New("apikey: API key revoked")
)

// Key is a stored key, without its secret.
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scopes    []Scope   `json:"scopes"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"createdAt"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// Has reports whether the key grants scope.
func (k *Key) Has(scope Scope) bool {
	return slices.Contains(k.Scopes, ScopeAdmin) || slices.Contains(k.Scopes, scope)
}

// Store keeps keys in one Redis hash, ID → JSON.
type Store struct {
	rdb redis.UniversalClient
	key string
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb, key: "realname:apikeys"} }

func hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Create makes a key and returns it with its token, which is not stored
// and cannot be shown again.
func (s *Store) Create(ctx context.Context, name string, scopes []Scope) (*Key, string, error) {
	if name == "" || len(name) > 100 {
		return nil, "", errors.New("apikey: a name of 1-100 characters is required")
	}
	var idb [6]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return nil, "", err
	}
	id := hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	k := &Key{ID: id, Name: name, Scopes: scopes, Hash: hash(secret), CreatedAt: time.Now().UTC()}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, "", err
	}
	ok, err := s.rdb.HSetNX(ctx, s.key, id, b).Result()
	if err != nil {
		return nil, "", fmt.Errorf("apikey: store: %w", err)
	}
	if !ok {
		return nil, "", errors.New("apikey: ID collision; try again")
	}
	return k, "rn_" + id + "_" + secret, nil
}

// Authenticate returns the key a token belongs to.
func (s *Store) Authenticate(ctx context.Context, token string) (*Key, error) {
	rest, ok := strings.CutPrefix(token, "rn_")
	if !ok {
		return nil, ErrInvalid
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || secret == "" {
		return nil, ErrInvalid
	}
	k, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash(secret))) != 1 {
		return nil, ErrInvalid
	}
	if !k.RevokedAt.IsZero() {
		return nil, ErrRevoked
	}
	return k, nil
}

func (s *Store) get(ctx context.Context, id string) (*Key, error) {
	b, err := s.rdb.HGet(ctx, s.key, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("apikey: look up: %w", err)
	}
	var k Key
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("apikey: decode: %w", err)
	}
	return &k, nil
}

// List returns every key, oldest first.
func (s *Store) List(ctx context.Context) ([]*Key, error) {
	m, err := s.rdb.HGetAll(ctx, s.key).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*Key, 0, len(m))
	for _, v := range m {
		var k Key
		if err := json.Unmarshal([]byte(v), &k); err == nil {
			out = append(out, &k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Revoke revokes a key by ID.
func (s *Store) Revoke(ctx context.Context, id string) error {
	k, err := s.get(ctx, id)
	if errors.Is(err, ErrInvalid) {
		return fmt.Errorf("apikey: no key %q", id)
	}
	if err != nil {
		return err
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = time.Now().UTC()
	}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.key, id, b).Err()
}
