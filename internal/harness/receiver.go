package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Routes of the receiver (internal/harness/receiver).
const (
	// HooksPath takes the webhook deliveries: the workers'
	// REALNAME_WEBHOOK_URL.
	HooksPath = "/hooks"
	// ArrivalsPath answers GET ?prefix=P[&summary=1] with Arrivals.
	ArrivalsPath = "/arrivals"
	// ResetPath forgets every delivery, on POST.
	ResetPath = "/reset"
)

// ReceiverListening starts the receiver's first line on standard output,
// followed by its address.
const ReceiverListening = "receiver listening on "

// Arrivals is what the receiver accepted of the webhook-ids that start with
// a prefix: the answer of GET /arrivals, and what a receiver leaves in its
// state file when it stops.
type Arrivals struct {
	// Count is the number of such ids accepted.
	Count int `json:"count"`
	// Last is the latest first arrival among them, in unix nanoseconds.
	Last int64 `json:"last"`
	// Rejected and Duplicates are the receiver's counters over every id:
	// deliveries that did not verify, and deliveries of an id again.
	Rejected   int `json:"rejected"`
	Duplicates int `json:"duplicates"`
	// At holds each id's first arrival, in unix nanoseconds; left out of
	// a summary.
	At map[string]int64 `json:"at,omitempty"`
	// Again holds, for each id accepted more than once, how many times
	// after the first; left out of a summary.
	Again map[string]int `json:"again,omitempty"`
}

// Receiver is a running webhook receiver, and a client of what it
// accepted.
type Receiver struct {
	*Proc
	// URL is http://host:port.
	URL string
	// state is the file it writes its arrivals to when it stops.
	state string
}

// StartReceiver starts a receiver listening on addr (127.0.0.1:0 for a
// free port; the address of a receiver that stopped to start it again
// where the workers send) and makes it h.Receiver.
func (h *Harness) StartReceiver(ctx context.Context, addr string) (*Receiver, error) {
	h.receivers++
	name := "receiver"
	if h.receivers > 1 {
		name = fmt.Sprintf("receiver-%d", h.receivers)
	}
	state := filepath.Join(h.Dir, name+".json")
	env := append(BaseEnv(), "REALNAME_WEBHOOK_SECRET="+h.WebhookSecret)
	p, err := h.Start(name, env, h.BinPath("receiver"), "-addr", addr, "-state", state)
	if err != nil {
		return nil, err
	}
	got, err := WaitLogLine(ctx, p, func(line string) (string, bool) {
		return strings.CutPrefix(line, ReceiverListening)
	})
	if err != nil {
		return nil, err
	}
	h.Receiver = &Receiver{Proc: p, URL: "http://" + got, state: state}
	return h.Receiver, nil
}

// Addr is the receiver's host:port.
func (r *Receiver) Addr() string { return strings.TrimPrefix(r.URL, "http://") }

// HooksURL is where the workers deliver.
func (r *Receiver) HooksURL() string { return r.URL + HooksPath }

// Reset makes the receiver forget every delivery.
func (r *Receiver) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+ResetPath, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("receiver reset: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("receiver reset: %s", resp.Status)
	}
	return nil
}

// Arrivals returns what arrived of the ids starting with prefix; summary
// leaves out the times of each.
func (r *Receiver) Arrivals(ctx context.Context, prefix string, summary bool) (Arrivals, error) {
	var a Arrivals
	q := url.Values{"prefix": {prefix}}
	if summary {
		q.Set("summary", "1")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+ArrivalsPath+"?"+q.Encode(), nil)
	if err != nil {
		return a, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return a, fmt.Errorf("receiver arrivals: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("receiver arrivals: %s", resp.Status)
	}
	return a, json.NewDecoder(resp.Body).Decode(&a)
}

// Final returns everything the receiver accepted since its last reset, as
// it wrote it when it stopped: after Stop, while Arrivals can no longer
// ask it. Every delivery it answered is in it.
func (r *Receiver) Final() (Arrivals, error) {
	var a Arrivals
	<-r.Done()
	b, err := os.ReadFile(r.state)
	if err != nil {
		return a, fmt.Errorf("%s left no arrivals (%v); the end of its log:\n%s", r.Name, err, Tail(r.LogPath, 15))
	}
	return a, json.Unmarshal(b, &a)
}

// WaitArrivals polls the receiver until n ids starting with prefix have
// arrived. It gives up after timeout, when ctx ends, or when one of watch
// exits: a worker that died will not deliver the rest.
func (r *Receiver) WaitArrivals(ctx context.Context, prefix string, n int, timeout time.Duration, watch []*Proc) (Arrivals, error) {
	var a Arrivals
	err := Poll(ctx, 50*time.Millisecond, timeout, watch, func() (bool, error) {
		var err error
		a, err = r.Arrivals(ctx, prefix, true)
		return a.Count >= n, err
	}, func() string { return fmt.Sprintf("%d of %d webhooks arrived", a.Count, n) })
	return a, err
}
