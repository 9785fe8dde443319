package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxReceiveBody is the largest delivery body a Receiver reads.
const maxReceiveBody = 1 << 20

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Verifier checks every delivery's signature. Required.
	Verifier *Verifier
	// FailFirst makes the Receiver answer 503 to the first FailFirst
	// verified deliveries of each webhook-id, to exercise retries.
	// Defaults to 0.
	FailFirst int
	// Status, when set, chooses the answer to the n-th (from 1) verified
	// delivery of id, e.g. 410 to ask the sender to stop. A return of 0
	// falls back to FailFirst and then 204. Optional.
	Status func(id string, n int) int
}

// ReceiverStats counts what a Receiver saw. Received = Verified + Rejected,
// and Verified = Failed + Unique + Duplicates.
type ReceiverStats struct {
	// Received counts every request.
	Received int
	// Verified counts requests whose signature verified.
	Verified int
	// Rejected counts requests refused before acceptance: a bad or missing
	// signature, a stale timestamp, a body over 1 MiB, or a method other
	// than POST.
	Rejected int
	// Failed counts verified deliveries answered with a non-2xx status on
	// purpose (FailFirst or Status).
	Failed int
	// Unique counts distinct webhook-ids accepted.
	Unique int
	// Duplicates counts accepted deliveries of an id already accepted.
	Duplicates int
}

// Receiver is an http.Handler standing in for a customer's backend in the
// demo and in tests: it verifies each delivery, deduplicates by
// webhook-id, and records what it accepted. It is safe for concurrent use.
type Receiver struct {
	cfg ReceiverConfig

	mu       sync.Mutex
	stats    ReceiverStats
	attempts map[string]int    // verified deliveries per id
	events   map[string][]byte // id → first accepted body
	changed  chan struct{}     // closed and replaced on each acceptance
}

// NewReceiver validates cfg and returns a Receiver.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("webhook: new receiver: Verifier is required")
	}
	if cfg.FailFirst < 0 {
		return nil, fmt.Errorf("webhook: new receiver: negative FailFirst %d", cfg.FailFirst)
	}
	return &Receiver{
		cfg:      cfg,
		attempts: make(map[string]int),
		events:   make(map[string][]byte),
		changed:  make(chan struct{}),
	}, nil
}

// ServeHTTP answers 204 to an accepted delivery, 401 to one that does not
// verify, 413 to a body over 1 MiB, 405 to a method other than POST, and
// whatever FailFirst or Status chooses otherwise.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rc.reject()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReceiveBody))
	if err != nil {
		rc.reject()
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if err := rc.cfg.Verifier.Verify(body, r.Header); err != nil {
		rc.reject()
		// The error names the failed check only, so it is safe to echo.
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}

	id := r.Header.Get(standardwebhooks.HeaderWebhookID)
	status := rc.record(id, body)
	if status >= 200 && status <= 299 {
		w.WriteHeader(status)
		return
	}
	http.Error(w, http.StatusText(status), status)
}

// reject counts a request refused before verification succeeded.
func (rc *Receiver) reject() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.stats.Received++
	rc.stats.Rejected++
}

// record counts a verified delivery of id and returns the status to
// answer with; it stores body when this is the id's first acceptance.
func (rc *Receiver) record(id string, body []byte) int {
	rc.mu.Lock()
	rc.stats.Received++
	rc.stats.Verified++
	rc.attempts[id]++
	n := rc.attempts[id]
	rc.mu.Unlock()

	// Status is called without the lock, so it may look at the Receiver.
	status := 0
	if rc.cfg.Status != nil {
		status = rc.cfg.Status(id, n)
	}
	if status == 0 && n <= rc.cfg.FailFirst {
		status = http.StatusServiceUnavailable
	}
	if status == 0 {
		status = http.StatusNoContent
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch _, seen := rc.events[id]; {
	case status < 200 || status > 299:
		rc.stats.Failed++
	case seen:
		rc.stats.Duplicates++
	default:
		rc.events[id] = body
		rc.stats.Unique++
		close(rc.changed)
		rc.changed = make(chan struct{})
	}
	return status
}

// Stats returns a snapshot of the counters.
func (rc *Receiver) Stats() ReceiverStats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.stats
}

// Events returns a copy of the accepted events: webhook-id → the body of
// its first accepted delivery.
func (rc *Receiver) Events() map[string][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := maps.Clone(rc.events)
	for id, b := range out {
		out[id] = bytes.Clone(b)
	}
	return out
}

// WaitFor blocks until at least n distinct events have been accepted, or
// ctx is done, in which case the error says how many had arrived.
func (rc *Receiver) WaitFor(ctx context.Context, n int) error {
	for {
		rc.mu.Lock()
		have, changed := rc.stats.Unique, rc.changed
		rc.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("webhook: waiting for %d events, have %d: %w", n, have, context.Cause(ctx))
		}
	}
}
