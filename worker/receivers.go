package worker

import (
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// receiverCircuits keeps one circuit breaker per webhook receiver (scheme
// and host of its URL) for inline deliveries. A receiver that fails
// receiverFailures times in a row gets no inline attempt for
// receiverOpenFor: its events go straight to the webhooks queue, which
// retries them on its schedule, and the verification pools are not held
// by a receiver that is down. One attempt then probes it again.
type receiverCircuits struct {
	openFor time.Duration
	mu      sync.Mutex
	m       map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
}

const (
	receiverFailures = 3
	receiverOpenFor  = 30 * time.Second
	// maxReceiverCircuits bounds the map: past it, the circuits start
	// afresh (callback URLs come from callers).
	maxReceiverCircuits = 1024
)

func newReceiverCircuits(openFor time.Duration) *receiverCircuits {
	return &receiverCircuits{openFor: openFor, m: make(map[string]*gobreaker.TwoStepCircuitBreaker[struct{}])}
}

// allow reports whether an inline delivery to rawURL may be tried now; if
// so, done must be called with its outcome.
func (r *receiverCircuits) allow(rawURL string) (done func(ok bool), ok bool) {
	key := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		key = u.Scheme + "://" + u.Host
	}
	r.mu.Lock()
	cb := r.m[key]
	if cb == nil {
		if len(r.m) >= maxReceiverCircuits {
			clear(r.m)
		}
		cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        key,
			MaxRequests: 1,
			Timeout:     r.openFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= receiverFailures },
		})
		r.m[key] = cb
	}
	r.mu.Unlock()
	report, err := cb.Allow()
	if err != nil {
		return nil, false
	}
	return func(ok bool) {
		if ok {
			report(nil)
		} else {
			report(errDeliveryFailed)
		}
	}, true
}

// errDeliveryFailed is what a failed inline delivery reports to its
// receiver's circuit.
var errDeliveryFailed = errors.New("webhook delivery failed")
