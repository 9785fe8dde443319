package provider_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"
)

// named is a provider that is never called: the router only reads names.
type named string

func (n named) Name() string                { return string(n) }
func (n named) Action(provider.Kind) string { return "Verify" }
func (n named) Quota(provider.Kind) int     { return 0 }
func (n named) Verify(context.Context, provider.Request) (*provider.Answer, error) {
	return nil, errors.New("not called")
}

var transient = &provider.Error{Class: provider.ClassTransient}

type routerBundle struct {
	r       *provider.Router
	mu      sync.Mutex
	changes []string
}

func setupRouter(t *testing.T, secondary bool) *routerBundle {
	t.Helper()
	b := &routerBundle{}
	routes := map[provider.Kind]provider.Route{}
	for _, k := range provider.Kinds {
		rt := provider.Route{Primary: named("a")}
		if secondary {
			rt.Secondary = named("b")
		}
		routes[k] = rt
	}
	r, err := provider.NewRouter(provider.RouterConfig{Routes: routes, Failures: 3, OpenFor: 50 * time.Millisecond,
		OnStateChange: func(p, from, to string) {
			b.mu.Lock()
			b.changes = append(b.changes, p+":"+from+">"+to)
			b.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	b.r = r
	return b
}

// call picks a provider for an idcard job and reports err as the outcome.
func (b *routerBundle) call(t *testing.T, billedBy []string, err error) (string, error) {
	t.Helper()
	c, perr := b.r.Pick(provider.KindIDCard, billedBy)
	if perr != nil {
		return "", perr
	}
	c.Done(err)
	return c.Provider.Name(), nil
}

func TestRouterFailsOverAndBack(t *testing.T) {
	t.Parallel()
	b := setupRouter(t, true)
	for range 3 {
		if name, _ := b.call(t, nil, transient); name != "a" {
			t.Fatalf("call went to %s before the circuit opened", name)
		}
	}
	if got := b.r.State("a"); got != "open" {
		t.Fatalf("after 3 transient failures the circuit is %s", got)
	}
	if name, _ := b.call(t, nil, nil); name != "b" {
		t.Fatalf("with the primary's circuit open, the call went to %s", name)
	}
	time.Sleep(60 * time.Millisecond)
	// Half-open: one trial call to the primary, the rest still fail over.
	trial, err := b.r.Pick(provider.KindIDCard, nil)
	if err != nil || trial.Provider.Name() != "a" || trial.Fallback {
		t.Fatalf("trial call: %v, %v", trial, err)
	}
	if name, _ := b.call(t, nil, nil); name != "b" {
		t.Fatalf("during the trial call, another went to %s", name)
	}
	trial.Done(nil)
	if name, _ := b.call(t, nil, nil); name != "a" || b.r.State("a") != "closed" {
		t.Fatalf("after a good trial, calls go to %s (circuit %s)", name, b.r.State("a"))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	want := []string{"a:closed>open", "a:open>half-open", "a:half-open>closed"}
	if len(b.changes) != len(want) {
		t.Fatalf("state changes %v, want %v", b.changes, want)
	}
	for i := range want {
		if b.changes[i] != want[i] {
			t.Fatalf("state changes %v, want %v", b.changes, want)
		}
	}
}

// TestRouterKeepsBilledJobs: a job that the primary may have billed stays
// with it, whatever its circuit says; so does one the secondary may have
// billed after the primary recovered.
func TestRouterKeepsBilledJobs(t *testing.T) {
	t.Parallel()
	b := setupRouter(t, true)
	for range 3 {
		b.call(t, nil, transient)
	}
	if _, err := b.call(t, []string{"a"}, nil); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("a job billed by the open primary: %v, want ErrUnavailable", err)
	}
	time.Sleep(60 * time.Millisecond)
	b.call(t, nil, nil) // the trial closes the circuit
	if name, _ := b.call(t, []string{"b"}, nil); name != "b" {
		t.Fatalf("a job billed by the secondary went to %s", name)
	}
	if _, err := b.call(t, []string{"c"}, nil); !errors.Is(err, provider.ErrNotConfigured) {
		t.Fatalf("a job billed by an unconfigured provider: %v, want ErrNotConfigured", err)
	}
}

// TestRouterOutcomes: only transient failures count against a circuit.
func TestRouterOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		err   error
		opens bool
	}{
		{"transient", transient, true},
		{"answer", nil, false},
		{"throttled", &provider.Error{Class: provider.ClassThrottled}, false},
		{"credentials", &provider.Error{Class: provider.ClassCredentials}, false},
		{"bad request", &provider.Error{Class: provider.ClassBadRequest}, false},
		{"unknown code", &provider.Error{Class: provider.ClassUnknown}, false},
		{"context ended", context.DeadlineExceeded, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRouter(t, true)
			for range 3 {
				b.call(t, nil, tc.err)
			}
			if got := b.r.State("a") == "open"; got != tc.opens {
				t.Fatalf("circuit open = %v after 3 × %s, want %v", got, tc.name, tc.opens)
			}
		})
	}
	// An abandoned call counts for nothing.
	b := setupRouter(t, false)
	for range 5 {
		c, err := b.r.Pick(provider.KindIDCard, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Abandon()
		c.Done(transient) // too late: the first report wins
	}
	if b.r.State("a") != "closed" {
		t.Fatal("abandoned calls opened the circuit")
	}
}

// TestRouterWithoutSecondary: with nowhere to fail over to, an open
// circuit makes jobs wait (ErrUnavailable) instead of calling a provider
// that is down; one trial call after OpenFor closes it again.
func TestRouterWithoutSecondary(t *testing.T) {
	t.Parallel()
	b := setupRouter(t, false)
	for range 3 {
		b.call(t, nil, transient)
	}
	if name, err := b.call(t, nil, nil); !errors.Is(err, provider.ErrUnavailable) || b.r.State("a") != "open" {
		t.Fatalf("no secondary, primary's circuit open: call went to %q (%v), circuit %s; want ErrUnavailable", name, err, b.r.State("a"))
	}
	if name, err := b.call(t, []string{"a"}, nil); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("no secondary, a job bound to the open primary: %q, %v; want ErrUnavailable", name, err)
	}
	time.Sleep(60 * time.Millisecond)
	if name, err := b.call(t, nil, nil); err != nil || name != "a" || b.r.State("a") != "closed" {
		t.Fatalf("trial after OpenFor: %q, %v, circuit %s; want a call that closes it", name, err, b.r.State("a"))
	}
}

func TestNewRouterChecks(t *testing.T) {
	t.Parallel()
	all := func(rt provider.Route) map[provider.Kind]provider.Route {
		m := map[provider.Kind]provider.Route{}
		for _, k := range provider.Kinds {
			m[k] = rt
		}
		return m
	}
	missing := all(provider.Route{Primary: named("a")})
	delete(missing, provider.KindBankCard4)
	cases := []struct {
		name   string
		routes map[provider.Kind]provider.Route
	}{
		{"a kind without a route", missing},
		{"no primary", all(provider.Route{Secondary: named("a")})},
		{"same provider twice", all(provider.Route{Primary: named("a"), Secondary: named("a")})},
	}
	for _, tc := range cases {
		if _, err := provider.NewRouter(provider.RouterConfig{Routes: tc.routes}); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
