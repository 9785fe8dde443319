package main

import (
	"context"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/producer"
)

// TestKeysCommands: `keys generate` prints an entry a ring takes; `keys
// status` counts queued tasks by the key that sealed them, says which
// keys can go, and fails when tasks are sealed under a key the ring lacks.
func TestKeysCommands(t *testing.T) {
	out, err := runCmd(t, "keys", "generate", "--id", "k2")
	if err != nil {
		t.Fatal(err)
	}
	newKey := strings.TrimSpace(out)
	if _, err := keyring.Parse(newKey); err != nil || !strings.HasPrefix(newKey, "k2:") {
		t.Fatalf("generated %q: %v", newKey, err)
	}

	db := redistest.New(t)
	rdb := db.Client(t)
	results, _ := store.NewRedis(rdb, store.RedisConfig{})
	prod, err := producer.New(producer.Config{Redis: rdb, Store: results, Codec: harness.Codec()})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for e := range sample.Generate(3, 5) {
		if _, err := prod.Enqueue(context.Background(), producer.Request{Kind: "idcard", OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber}, nil); err != nil {
			t.Fatal(err)
		}
	}
	out, err = runCmd(t, "keys", "status", "--redis-url", db.URL())
	if err != nil || !strings.Contains(out, harness.Codec().Keys().Primary()) || !strings.Contains(out, "3") || strings.Contains(out, "k2") {
		t.Fatalf("status with the test ring: %v\n%s", err, out)
	}
	t.Setenv("REALNAME_ENCRYPTION_KEYS", newKey+","+harness.EncryptionKeys())
	out, err = runCmd(t, "keys", "status", "--redis-url", db.URL())
	if err != nil || !strings.Contains(out, "yes (newest: seals)") {
		t.Fatalf("status after adding k2 first: %v\n%s", err, out)
	}
	t.Setenv("REALNAME_ENCRYPTION_KEYS", newKey)
	out, err = runCmd(t, "keys", "status", "--redis-url", db.URL())
	if err == nil || !strings.Contains(out, "NO: these tasks cannot be opened") {
		t.Fatalf("status without the key in use: %v\n%s", err, out)
	}
}
