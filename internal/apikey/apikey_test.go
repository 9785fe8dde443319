package apikey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t).Client(t)
	s := New(rdb)
	k, token, err := s.Create(ctx, "backend", []Scope{ScopeEnqueue})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, token)
	if err != nil || got.ID != k.ID || !got.Has(ScopeEnqueue) || got.Has(ScopeRead) {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	// The secret is not stored, only its hash.
	secret := token[strings.LastIndex(token, "_")+1:]
	raw, _ := rdb.HGetAll(ctx, "realname:apikeys").Result()
	for _, v := range raw {
		if strings.Contains(v, secret) {
			t.Fatal("the secret is stored in Redis")
		}
	}
	for _, bad := range []string{"", "rn_", "rn_" + k.ID, "rn_" + k.ID + "_wrong", token + "x", "Bearer " + token, "rn_000000000000_" + secret} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Authenticate(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := s.Revoke(ctx, "nope"); err == nil {
		t.Fatal("revoked a missing key")
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Fatalf("List = %+v, %v", list, err)
	}
	admin, _, _ := s.Create(ctx, "ops", []Scope{ScopeAdmin})
	if !admin.Has(ScopeRead) || !admin.Has(ScopeEnqueue) {
		t.Fatal("admin does not imply the other scopes")
	}
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"enqueue,read", 2, true},
		{" admin ", 1, true},
		{"read,read", 1, true},
		{"", 0, false},
		{"write", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseScopes(tc.in)
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("ParseScopes(%q) = %v, %v", tc.in, got, err)
		}
	}
}
