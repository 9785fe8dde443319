package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiverBundle is a Receiver behind a loopback server, and a Client whose
// deliveries it accepts.
type receiverBundle struct {
	recv   *Receiver
	srv    *httptest.Server
	client *Client
	secret Secret
}

// setupReceiver starts a Receiver with cfg (its Verifier filled in) and
// returns it with a matching Client.
func setupReceiver(t *testing.T, cfg ReceiverConfig) *receiverBundle {
	t.Helper()
	sec := newSecret(t)
	cfg.Verifier = mustVerifier(t, sec)
	recv, err := NewReceiver(cfg)
	if err != nil {
		t.Fatalf("NewReceiver: %v", err)
	}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	client, err := NewClient(ClientConfig{Signer: mustSigner(t, sec), Policy: loopback})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return &receiverBundle{recv: recv, srv: srv, client: client, secret: sec}
}

func TestReceiverFailFirst(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t, ReceiverConfig{FailFirst: 3})
	ctx := context.Background()
	body := []byte(`{"event":"verification.completed","job":"j1"}`)

	for attempt := 1; attempt <= 3; attempt++ {
		err := b.client.Deliver(ctx, b.srv.URL, "evt_1", body)
		var de *DeliveryError
		if !errors.As(err, &de) || de.StatusCode != http.StatusServiceUnavailable || de.Permanent() {
			t.Fatalf("attempt %d: Deliver = %v, want a transient 503", attempt, err)
		}
	}
	if err := b.client.Deliver(ctx, b.srv.URL, "evt_1", body); err != nil {
		t.Fatalf("attempt 4: Deliver = %v, want nil", err)
	}
	if err := b.recv.WaitFor(ctx, 1); err != nil {
		t.Fatalf("WaitFor(1): %v", err)
	}

	want := ReceiverStats{Received: 4, Verified: 4, Failed: 3, Unique: 1}
	if got := b.recv.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	events := b.recv.Events()
	if len(events) != 1 || !bytes.Equal(events["evt_1"], body) {
		t.Errorf("Events() = %q, want evt_1 → %s", events, body)
	}

	// A redelivery after acceptance (a sender that lost the answer) is a
	// duplicate, not a new event.
	if err := b.client.Deliver(ctx, b.srv.URL, "evt_1", body); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	want = ReceiverStats{Received: 5, Verified: 5, Failed: 3, Unique: 1, Duplicates: 1}
	if got := b.recv.Stats(); got != want {
		t.Errorf("after redelivery, Stats() = %+v, want %+v", got, want)
	}

	// Events returns a copy.
	events["evt_1"][0] = 'X'
	delete(events, "evt_1")
	if got := b.recv.Events()["evt_1"]; !bytes.Equal(got, body) {
		t.Errorf("Events() shares its storage: now %q", got)
	}
}

func TestReceiverRejects(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t, ReceiverConfig{})
	ctx := context.Background()

	// Signed with another secret.
	stranger, err := NewClient(ClientConfig{Signer: mustSigner(t, newSecret(t)), Policy: loopback})
	if err != nil {
		t.Fatal(err)
	}
	var de *DeliveryError
	if err := stranger.Deliver(ctx, b.srv.URL, "evt_1", []byte(`{}`)); !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged delivery: Deliver = %v, want 401", err)
	}

	// Stale: signed 10 minutes ago.
	stale := *b.client
	stale.now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	if err := stale.Deliver(ctx, b.srv.URL, "evt_2", []byte(`{}`)); !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized {
		t.Errorf("stale delivery: Deliver = %v, want 401", err)
	}

	// Unsigned.
	resp, err := http.Post(b.srv.URL, "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned POST: status %d, want 401", resp.StatusCode)
	}

	// Not a POST.
	resp, err = http.Get(b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}

	// Over 1 MiB, properly signed.
	big := bytes.Repeat([]byte("a"), 1<<20+1)
	if err := b.client.Deliver(ctx, b.srv.URL, "evt_3", big); !errors.As(err, &de) || de.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large delivery: Deliver = %v, want 413", err)
	}

	want := ReceiverStats{Received: 5, Rejected: 5}
	if got := b.recv.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if n := len(b.recv.Events()); n != 0 {
		t.Errorf("Events() has %d events, want 0", n)
	}
}

func TestReceiverStatus(t *testing.T) {
	t.Parallel()
	var b *receiverBundle
	b = setupReceiver(t, ReceiverConfig{
		FailFirst: 1,
		Status: func(id string, n int) int {
			_ = b.recv.Stats() // may look at the Receiver without deadlocking
			switch {
			case id == "evt_gone":
				return http.StatusGone
			case id == "evt_ok" && n == 1:
				return http.StatusOK // overrides FailFirst
			}
			return 0
		},
	})
	ctx := context.Background()

	var de *DeliveryError
	if err := b.client.Deliver(ctx, b.srv.URL, "evt_gone", []byte(`{}`)); !errors.As(err, &de) || !de.Permanent() {
		t.Errorf("Deliver(evt_gone) = %v, want a permanent 410", err)
	}
	if err := b.client.Deliver(ctx, b.srv.URL, "evt_ok", []byte(`{}`)); err != nil {
		t.Errorf("Deliver(evt_ok) = %v, want nil (Status overrides FailFirst)", err)
	}
	if err := b.client.Deliver(ctx, b.srv.URL, "evt_other", []byte(`{}`)); !errors.As(err, &de) || de.StatusCode != 503 {
		t.Errorf("Deliver(evt_other) = %v, want 503 (Status falls back to FailFirst)", err)
	}
	want := ReceiverStats{Received: 3, Verified: 3, Failed: 2, Unique: 1}
	if got := b.recv.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// TestReceiverConcurrent delivers many events from many goroutines, each
// retried until accepted and then once more, and checks the counters add
// up. Run with -race.
func TestReceiverConcurrent(t *testing.T) {
	t.Parallel()
	const events, workers = 40, 8
	b := setupReceiver(t, ReceiverConfig{FailFirst: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ids := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for id := range ids {
				body := fmt.Appendf(nil, `{"id":%q}`, id)
				for {
					err := b.client.Deliver(ctx, b.srv.URL, id, body)
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						t.Errorf("Deliver(%s): %v", id, err)
						return
					}
				}
				if err := b.client.Deliver(ctx, b.srv.URL, id, body); err != nil {
					t.Errorf("redeliver %s: %v", id, err)
				}
			}
		})
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- b.recv.WaitFor(ctx, events) }()
	for i := range events {
		ids <- fmt.Sprintf("evt_%03d", i)
	}
	close(ids)
	wg.Wait()
	if err := <-waitErr; err != nil {
		t.Fatalf("WaitFor: %v", err)
	}

	want := ReceiverStats{Received: 3 * events, Verified: 3 * events, Failed: events, Unique: events, Duplicates: events}
	if got := b.recv.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if n := len(b.recv.Events()); n != events {
		t.Errorf("Events() has %d, want %d", n, events)
	}
}

func TestReceiverWaitForTimesOut(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t, ReceiverConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.recv.WaitFor(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor with nothing delivered = %v, want DeadlineExceeded", err)
	}
	if err := b.recv.WaitFor(context.Background(), 0); err != nil {
		t.Errorf("WaitFor(0) = %v, want nil", err)
	}
}

func TestNewReceiverValidates(t *testing.T) {
	t.Parallel()
	if _, err := NewReceiver(ReceiverConfig{}); err == nil {
		t.Error("NewReceiver without a Verifier: want an error")
	}
	if _, err := NewReceiver(ReceiverConfig{Verifier: mustVerifier(t, newSecret(t)), FailFirst: -1}); err == nil {
		t.Error("NewReceiver with a negative FailFirst: want an error")
	}
}
