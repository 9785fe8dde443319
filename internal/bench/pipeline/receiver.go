package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/realname-io/realname/internal/webhook"
)

// receiverFlag runs this program as the webhook receiver: -receiver ADDR.
const receiverFlag = "-receiver"

// Routes of the receiver.
const (
	hooksPath    = "/hooks"    // webhook deliveries, as the workers' REALNAME_WEBHOOK_URL
	arrivalsPath = "/arrivals" // GET: arrival times (see arrivals)
	resetPath    = "/reset"    // POST: forget every delivery
)

// listeningPrefix starts the receiver's first line on standard output; the
// harness reads the address from it.
const listeningPrefix = "receiver listening on "

// arrivals is the answer of GET /arrivals?prefix=P[&summary=1]: the
// deliveries accepted of every webhook-id that starts with P.
type arrivals struct {
	// Count is the number of such ids accepted.
	Count int `json:"count"`
	// Last is the latest first arrival among them, in unix nanoseconds.
	Last int64 `json:"last"`
	// Rejected and Duplicates are the receiver's counters over every id:
	// deliveries that did not verify, and deliveries of an id again.
	Rejected   int `json:"rejected"`
	Duplicates int `json:"duplicates"`
	// At holds each id's first arrival, in unix nanoseconds; left out with
	// summary=1.
	At map[string]int64 `json:"at,omitempty"`
}

// arrivalLog records when each webhook-id first arrived, in front of an
// internal/webhook Receiver that verifies the signatures.
type arrivalLog struct {
	verifier *webhook.Verifier

	mu sync.Mutex
	rc *webhook.Receiver
	at map[string]int64
}

func (l *arrivalLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case hooksPath:
		l.deliver(w, r)
	case arrivalsPath:
		l.list(w, r)
	case resetPath:
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if err := l.reset(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// deliver passes a delivery to the Receiver and, when it was accepted,
// records its arrival: the time the request reached the handler.
func (l *arrivalLog) deliver(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UnixNano()
	l.mu.Lock()
	rc := l.rc
	l.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rc.ServeHTTP(sw, r)
	if sw.status < 200 || sw.status > 299 {
		return
	}
	id := r.Header.Get(standardwebhooks.HeaderWebhookID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, seen := l.at[id]; !seen && rc == l.rc { // not a delivery from before a reset
		l.at[id] = now
	}
}

func (l *arrivalLog) list(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	summary := r.URL.Query().Get("summary") == "1"
	l.mu.Lock()
	st := l.rc.Stats()
	out := arrivals{Rejected: st.Rejected, Duplicates: st.Duplicates}
	if !summary {
		out.At = make(map[string]int64)
	}
	for id, at := range l.at {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		out.Count++
		out.Last = max(out.Last, at)
		if !summary {
			out.At[id] = at
		}
	}
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// reset starts afresh: a new Receiver, whose deduplication forgets the
// webhook-ids of earlier runs (the runs reuse order numbers).
func (l *arrivalLog) reset() error {
	rc, err := webhook.NewReceiver(webhook.ReceiverConfig{Verifier: l.verifier})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rc, l.at = rc, make(map[string]int64)
	return nil
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// runReceiver serves the receiver on addr until SIGTERM or SIGINT. The
// webhook secret comes from REALNAME_WEBHOOK_SECRET, as the workers'
// does, never from the command line.
func runReceiver(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	secret, err := webhook.ParseSecret(os.Getenv("REALNAME_WEBHOOK_SECRET"))
	if err != nil {
		return fmt.Errorf("REALNAME_WEBHOOK_SECRET: %w", err)
	}
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		return err
	}
	l := &arrivalLog{verifier: v}
	if err := l.reset(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println(listeningPrefix + ln.Addr().String())
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// receiverProc is the running receiver, seen from the harness.
type receiverProc struct {
	*proc
	url string // http://host:port
}

// startReceiver runs this program again as the receiver.
func (h *harness) startReceiver(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(baseEnv(), "REALNAME_WEBHOOK_SECRET="+h.webhookSecret)
	p, err := h.start("receiver", env, self, receiverFlag, "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr, err := waitLogLine(ctx, p, func(line string) (string, bool) {
		return strings.CutPrefix(line, listeningPrefix)
	})
	if err != nil {
		return err
	}
	h.receiver = &receiverProc{proc: p, url: "http://" + addr}
	return nil
}

// reset makes the receiver forget every delivery.
func (r *receiverProc) reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+resetPath, nil)
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

// arrivals returns what arrived of the ids starting with prefix; summary
// leaves out the times of each.
func (r *receiverProc) arrivals(ctx context.Context, prefix string, summary bool) (arrivals, error) {
	var a arrivals
	q := url.Values{"prefix": {prefix}}
	if summary {
		q.Set("summary", "1")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+arrivalsPath+"?"+q.Encode(), nil)
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

// waitArrivals polls the receiver until n ids starting with prefix have
// arrived. It gives up after timeout, when ctx ends, or when one of watch
// exits: a worker that died will not deliver the rest.
func (r *receiverProc) waitArrivals(ctx context.Context, prefix string, n int, timeout time.Duration, watch []*proc) (arrivals, error) {
	deadline := time.Now().Add(timeout)
	for {
		a, err := r.arrivals(ctx, prefix, true)
		if err != nil {
			return a, err
		}
		if a.Count >= n {
			return a, nil
		}
		for _, p := range watch {
			if p.exited() {
				return a, p.failure()
			}
		}
		if time.Now().After(deadline) {
			return a, fmt.Errorf("%d of %d webhooks arrived within %s: %w", a.Count, n, timeout, errTimeout)
		}
		select {
		case <-ctx.Done():
			return a, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
