package provider

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Route is where the jobs of one kind go: a primary provider, and an
// optional secondary that takes them while the primary's circuit is open.
type Route struct {
	Primary   Provider
	Secondary Provider
}

// RouterConfig configures a Router. Routes must give every kind a primary.
type RouterConfig struct {
	// Routes maps each kind to its providers.
	Routes map[Kind]Route
	// Failures is how many transient failures in a row (HTTP 5xx, refused
	// connections, timeouts, busy answers) open a provider's circuit.
	// Defaults to 5.
	Failures uint32
	// OpenFor is how long an open circuit stays open before one trial call
	// is let through; a trial that succeeds closes it, and the jobs come
	// back. Defaults to 10s.
	OpenFor time.Duration
	// OnStateChange, when set, is called whenever a provider's circuit
	// changes state: "closed", "open" or "half-open".
	OnStateChange func(provider, from, to string)
}

// ErrUnavailable is matched by the error of Router.Route when no provider
// may take the job now: the circuits it could use are open.
var ErrUnavailable = errors.New("provider: no provider can take the job now")

// ErrNotConfigured is matched by the error of Router.Route when the job is
// bound to a provider that is not configured any more.
var ErrNotConfigured = errors.New("provider: the job is bound to a provider that is not configured")

// Router picks the provider of each call and fails over: while the
// primary's circuit is open, calls go to the secondary; when a trial call
// to the primary succeeds, they come back. A job that may have been billed
// by one provider is bound to it (Route's billedBy), so that one job is
// never billed by two. It is safe for concurrent use; its circuits are this
// process's own.
type Router struct {
	routes    map[Kind]Route
	providers map[string]Provider
	breakers  map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewRouter returns a Router for cfg after checking it.
func NewRouter(cfg RouterConfig) (*Router, error) {
	cfg.Failures = cmp.Or(cfg.Failures, 5)
	cfg.OpenFor = cmp.Or(cfg.OpenFor, 10*time.Second)
	r := &Router{
		routes:    make(map[Kind]Route, len(Kinds)),
		providers: make(map[string]Provider),
		breakers:  make(map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]),
	}
	for _, k := range Kinds {
		rt, ok := cfg.Routes[k]
		if !ok || rt.Primary == nil {
			return nil, fmt.Errorf("provider: no primary provider for kind %s", k)
		}
		if rt.Secondary != nil && rt.Secondary.Name() == rt.Primary.Name() {
			return nil, fmt.Errorf("provider: kind %s has %s as both primary and secondary", k, rt.Primary.Name())
		}
		r.routes[k] = rt
		for _, p := range []Provider{rt.Primary, rt.Secondary} {
			if p == nil {
				continue
			}
			if q, ok := r.providers[p.Name()]; ok && q != p {
				return nil, fmt.Errorf("provider: two different providers named %s", p.Name())
			}
			r.providers[p.Name()] = p
		}
	}
	for name := range r.providers {
		r.breakers[name] = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        name,
			MaxRequests: 1,
			Timeout:     cfg.OpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.Failures },
			// Only failures that say the provider is down or failing
			// count; a definitive answer, throttling or a credentials
			// refusal shows it is up.
			IsSuccessful: func(err error) bool { return ClassOf(err) != ClassTransient },
			// A call abandoned because this worker stops says nothing.
			IsExcluded: func(err error) bool { return errors.Is(err, errAbandoned) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				if cfg.OnStateChange != nil {
					cfg.OnStateChange(name, from.String(), to.String())
				}
			},
		})
	}
	return r, nil
}

// Providers returns every configured provider, sorted by name.
func (r *Router) Providers() []Provider {
	ps := make([]Provider, 0, len(r.providers))
	for _, p := range r.providers {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b Provider) int { return cmp.Compare(a.Name(), b.Name()) })
	return ps
}

// Route returns the route of kind.
func (r *Router) Route(kind Kind) Route { return r.routes[kind] }

// State returns the state of the named provider's circuit: "closed",
// "open" or "half-open"; "" for a provider that is not configured.
func (r *Router) State(name string) string {
	if b, ok := r.breakers[name]; ok {
		return b.State().String()
	}
	return ""
}

// Call is one call a Router let through: the provider to call, and Done to
// report its outcome to that provider's circuit.
type Call struct {
	// Provider is the provider to call.
	Provider Provider
	// Fallback is true when Provider is the kind's secondary.
	Fallback bool

	once sync.Once
	done func(error)
}

// Done reports the outcome of the call (Verify's error, nil for an
// answer). Calling it more than once has no effect; a call that was never
// made is reported with Abandon.
func (c *Call) Done(err error) { c.once.Do(func() { c.done(err) }) }

// Abandon reports that the call was not made after all.
func (c *Call) Abandon() { c.Done(errAbandoned) }

var errAbandoned = errors.New("provider: call abandoned")

// Pick chooses the provider for one call of a job of kind. billedBy names
// the providers that may have billed the job already: a job is bound to
// the first of them, whatever its circuit says, since moving it would risk a
// second bill. Otherwise the primary takes the call unless its circuit is
// open (or half-open with its trial call under way), and then the
// secondary does. A kind without a secondary has nowhere to fail over to:
// while its primary's circuit is open its jobs wait (ErrUnavailable), so
// that an outage costs one trial call per OpenFor instead of every job's
// retries. The error matches ErrUnavailable when the circuits allow no
// call, and ErrNotConfigured when the job is bound to a provider that is
// not configured.
func (r *Router) Pick(kind Kind, billedBy []string) (*Call, error) {
	rt, ok := r.routes[kind]
	if !ok {
		return nil, fmt.Errorf("provider: unknown kind %q", kind)
	}
	target := rt.Primary
	if len(billedBy) > 0 {
		if target, ok = r.providers[billedBy[0]]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrNotConfigured, billedBy[0])
		}
	}
	fallback := rt.Secondary != nil && target == rt.Secondary
	c, err := r.allow(target, fallback)
	switch {
	case err == nil:
		return c, nil
	case rt.Secondary == nil || len(billedBy) > 0 || fallback:
		return nil, err
	}
	return r.allow(rt.Secondary, true)
}

func (r *Router) allow(p Provider, fallback bool) (*Call, error) {
	done, err := r.breakers[p.Name()].Allow()
	if err != nil {
		return nil, fmt.Errorf("%w: %s circuit %s", ErrUnavailable, p.Name(), r.breakers[p.Name()].State())
	}
	return &Call{Provider: p, Fallback: fallback, done: done}, nil
}
