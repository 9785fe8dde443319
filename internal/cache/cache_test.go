package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/task"
)

func TestKey(t *testing.T) {
	t.Parallel()
	c, err := New(nil, Config{Secret: []byte("0123456789abcdef"), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	name, _ := identity.ParseName("张三丰")
	id, _ := identity.ParseIDNumber("11010519491231002x")
	v := task.Verification{Kind: task.KindIDCard, OrderNo: "a", Name: name, IDNumber: id}
	w := v
	w.OrderNo = "b" // another order, same person: same key
	if c.Key(v) != c.Key(w) {
		t.Fatal("the key depends on the order number")
	}
	w.Kind = task.KindMobile3
	if c.Key(v) == c.Key(w) {
		t.Fatal("two kinds share a key")
	}
	other, _ := New(nil, Config{Secret: []byte("another-secret-0123"), TTL: time.Hour})
	if c.Key(v) == other.Key(v) {
		t.Fatal("the key does not depend on the secret")
	}
	if k := c.Key(v); strings.Contains(k, id.Reveal()) || strings.Contains(k, name.Reveal()) {
		t.Fatal("the key holds personal data")
	}
	if _, err := New(nil, Config{Secret: []byte("short"), TTL: time.Hour}); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := New(nil, Config{Secret: []byte("0123456789abcdef")}); err == nil {
		t.Fatal("zero TTL accepted")
	}
}
