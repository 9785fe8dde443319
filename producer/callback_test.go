package producer

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

// TestCallbackURLPolicy: Enqueue refuses a callback URL its policy does
// not take, with a FieldError naming callbackUrl and nothing enqueued; a
// policy that allowlists loopback takes a loopback http URL.
func TestCallbackURLPolicy(t *testing.T) {
	db := redistest.New(t)
	rdb := db.Client(t)
	codec, _ := task.NewCodec(keyring.Ephemeral())
	strict, err := New(Config{Redis: rdb, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	loose, err := New(Config{Redis: rdb, Codec: codec, CallbackPolicy: CallbackPolicy{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer loose.Close()
	var entries []sample.Entry
	for e := range sample.Generate(20, 21) {
		entries = append(entries, e)
	}
	req := func(i int, url string) Request {
		e := entries[i]
		return Request{Kind: KindIDCard, OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber, CallbackURL: url}
	}
	ctx := context.Background()
	refused := []string{
		"http://10.0.0.1/x", "https://10.0.0.1/x", "https://192.168.0.10/x", "https://172.16.1.1/x",
		"http://169.254.169.254/latest/meta-data/", "https://100.64.0.1/x", "https://[fd00::1]/x",
		"https://[::ffff:127.0.0.1]/x", "https://127.0.0.1/x", "https://localhost/x", "http://backend.example.com/x",
		"https://u:p@backend.example.com/x", "https://backend.example.com/x#f", "ftp://backend.example.com/x",
		"not-a-url", "/relative", "https://backend.example.com/" + strings.Repeat("a", 2100),
	}
	for i, url := range refused {
		_, err := strict.Enqueue(ctx, req(i, url), nil)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "callbackUrl" || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Enqueue = %v, want a FieldError naming callbackUrl", url, err)
			continue
		}
		if strings.Contains(err.Error(), "/x") || strings.Contains(err.Error(), "meta-data") {
			t.Errorf("%s: error %q repeats the URL's path", url, err)
		}
		if _, err := Validate(req(i, url)); err == nil {
			t.Errorf("%s: the package's Validate accepted it", url)
		}
	}
	if _, err := strict.Enqueue(ctx, req(0, "http://10.0.0.1/x"), nil); err == nil || !strings.Contains(err.Error(), "10.0.0.1 is a private address") {
		t.Errorf("the reason does not say why: %v", err)
	}
	if n, _ := rdb.Keys(ctx, "realname:claim:*").Result(); len(n) != 0 {
		t.Errorf("refused enqueues claimed %d order numbers", len(n))
	}

	if _, err := strict.Enqueue(ctx, req(18, "https://backend.example.com/hooks?token=t"), nil); err != nil {
		t.Errorf("a public https URL: %v", err)
	}
	if _, err := loose.Enqueue(ctx, req(19, "http://127.0.0.1:9000/hooks"), nil); err != nil {
		t.Errorf("an allowlisted loopback URL: %v", err)
	}
	if _, err := loose.Validate(req(17, "http://10.0.0.1/x")); err == nil {
		t.Error("the loopback allowlist took a private address")
	}
	if p := loose.CallbackPolicy(); len(p.Allow) != 1 {
		t.Errorf("CallbackPolicy() = %+v", p)
	}
}
