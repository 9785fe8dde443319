// Command receiver is the webhook receiver of the harnesses of package
// harness: a customer's backend standing in, in a process of its own. It
// verifies each delivery's signature with the secret in
// REALNAME_WEBHOOK_SECRET (an internal/webhook Receiver), and records when
// each webhook-id first arrived and how many times it was accepted. The
// harness reads that at /arrivals while it runs, and from the state file
// once it has stopped:
//
//	receiver -addr 127.0.0.1:0 -state arrivals.json
//
// Its routes are harness.HooksPath, harness.ArrivalsPath and
// harness.ResetPath; its first line on standard output is
// harness.ReceiverListening and the address. On SIGTERM or SIGINT it stops
// taking connections, answers the deliveries in flight, and writes every
// arrival since its last reset to the state file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	state := flag.String("state", "", "file to write every arrival to on exit (none when empty)")
	flag.Parse()
	if err := run(*addr, *state); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

// arrivalLog records when each webhook-id first arrived, and how many
// times it was accepted, in front of an internal/webhook Receiver that
// verifies the signatures.
type arrivalLog struct {
	verifier *webhook.Verifier

	mu       sync.Mutex
	rc       *webhook.Receiver
	at       map[string]int64
	accepted map[string]int
}

func (l *arrivalLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case harness.HooksPath:
		l.deliver(w, r)
	case harness.ArrivalsPath:
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(l.arrivals(q.Get("prefix"), q.Get("summary") == "1"))
	case harness.ResetPath:
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
	if rc != l.rc { // a delivery from before a reset
		return
	}
	if _, seen := l.at[id]; !seen {
		l.at[id] = now
	}
	l.accepted[id]++
}

// arrivals returns what arrived of the ids starting with prefix; a summary
// leaves out each id's time and count.
func (l *arrivalLog) arrivals(prefix string, summary bool) harness.Arrivals {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.rc.Stats()
	out := harness.Arrivals{Rejected: st.Rejected, Duplicates: st.Duplicates}
	if !summary {
		out.At, out.Again = make(map[string]int64), make(map[string]int)
	}
	for id, at := range l.at {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		out.Count++
		out.Last = max(out.Last, at)
		if summary {
			continue
		}
		out.At[id] = at
		if n := l.accepted[id]; n > 1 {
			out.Again[id] = n - 1
		}
	}
	return out
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
	l.rc, l.at, l.accepted = rc, make(map[string]int64), make(map[string]int)
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

// run serves the receiver on addr until SIGTERM or SIGINT, then writes its
// arrivals to state.
func run(addr, state string) error {
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
	fmt.Println(harness.ReceiverListening + ln.Addr().String())
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
	if state == "" {
		return nil
	}
	b, err := json.Marshal(l.arrivals("", false))
	if err != nil {
		return err
	}
	return os.WriteFile(state, b, 0o600)
}
