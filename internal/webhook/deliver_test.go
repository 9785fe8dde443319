package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The endpoint's secrets: the path and query of a customer's URL may hold
// tokens, so no error may repeat them.
const (
	pathToken  = "PATHTOKEN7"
	queryToken = "QUERYTOKEN9"
	bodyMarker = "RESPONSEBODY3"
)

// deliverBundle is what a Deliver test needs.
type deliverBundle struct {
	secret   Secret
	client   *Client
	verifier *Verifier
}

// setupDeliver returns a Client with a fresh secret and a Verifier for it.
func setupDeliver(t *testing.T, cfg ClientConfig) *deliverBundle {
	t.Helper()
	if cfg.Policy.Allow == nil && cfg.Policy.AllowHosts == nil {
		cfg.Policy = loopback // the test servers listen there
	}
	return newBundle(t, cfg)
}

// newBundle is setupDeliver with cfg's Policy as it is.
func newBundle(t *testing.T, cfg ClientConfig) *deliverBundle {
	t.Helper()
	sec := newSecret(t)
	cfg.Signer = mustSigner(t, sec)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return &deliverBundle{secret: sec, client: c, verifier: mustVerifier(t, sec)}
}

// endpoint returns a URL on srv whose path and query hold tokens.
func endpoint(srv *httptest.Server) string {
	return srv.URL + "/hooks/" + pathToken + "?token=" + queryToken
}

// checkRedacted fails if err's message holds the endpoint's tokens or the
// response body.
func checkRedacted(t *testing.T, err error) {
	t.Helper()
	t.Logf("error: %v", err)
	for _, s := range []string{pathToken, queryToken, bodyMarker} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestDeliverOutcomes(t *testing.T) {
	t.Parallel()
	type want struct {
		ok         bool
		status     int
		permanent  bool
		retryAfter [2]time.Duration // inclusive bounds
	}
	cases := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		want    want
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(bodyMarker))
		}, want{ok: true}},
		{"204", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, want{ok: true}},
		{"410 gone is permanent", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, bodyMarker, http.StatusGone)
		}, want{status: 410, permanent: true}},
		{"429 with delta-seconds", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			http.Error(w, bodyMarker, http.StatusTooManyRequests)
		}, want{status: 429, retryAfter: [2]time.Duration{120 * time.Second, 120 * time.Second}}},
		{"429 with an HTTP-date", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			http.Error(w, bodyMarker, http.StatusTooManyRequests)
		}, want{status: 429, retryAfter: [2]time.Duration{time.Hour - 5*time.Second, time.Hour}}},
		{"503 with a week's Retry-After is capped", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "604800")
			http.Error(w, bodyMarker, http.StatusServiceUnavailable)
		}, want{status: 503, retryAfter: [2]time.Duration{24 * time.Hour, 24 * time.Hour}}},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, bodyMarker, http.StatusInternalServerError)
		}, want{status: 500}},
		{"400 is retried", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, bodyMarker, http.StatusBadRequest)
		}, want{status: 400}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupDeliver(t, ClientConfig{})
			var got atomic.Pointer[http.Request]
			var gotBody atomic.Pointer[[]byte]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("server: reading the body: %v", err)
				}
				got.Store(r)
				gotBody.Store(&body)
				tc.handler(w, r)
			}))
			t.Cleanup(srv.Close)

			body := []byte(`{"event":"verification.completed"}`)
			err := b.client.Deliver(context.Background(), endpoint(srv), "evt_1", body)

			r := got.Load()
			if r == nil {
				t.Fatal("the server saw no request")
			}
			if err := b.verifier.Verify(*gotBody.Load(), r.Header); err != nil {
				t.Errorf("the delivery does not verify: %v", err)
			}
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
				r.Header.Get("User-Agent") != DefaultUserAgent || r.Header.Get("webhook-id") != "evt_1" {
				t.Errorf("request: %s Content-Type=%q User-Agent=%q webhook-id=%q", r.Method,
					r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), r.Header.Get("webhook-id"))
			}
			if r.URL.Query().Get("token") != queryToken {
				t.Errorf("the query string did not reach the endpoint: %q", r.URL.RawQuery)
			}

			if tc.want.ok {
				if err != nil {
					t.Fatalf("Deliver = %v, want nil", err)
				}
				return
			}
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("Deliver = %v (%T), want a *DeliveryError", err, err)
			}
			checkRedacted(t, err)
			if de.StatusCode != tc.want.status {
				t.Errorf("StatusCode = %d, want %d", de.StatusCode, tc.want.status)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.want.status)) {
				t.Errorf("error %q does not name the status", err)
			}
			if de.Permanent() != tc.want.permanent {
				t.Errorf("Permanent() = %v, want %v", de.Permanent(), tc.want.permanent)
			}
			if lo, hi := tc.want.retryAfter[0], tc.want.retryAfter[1]; de.RetryAfter < lo || de.RetryAfter > hi {
				t.Errorf("RetryAfter = %s, want %s to %s", de.RetryAfter, lo, hi)
			}
		})
	}
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, custom := range []bool{false, true} {
			name := strconv.Itoa(status)
			if custom {
				name += " custom client"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var targetHits atomic.Int32
				target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					targetHits.Add(1)
				}))
				t.Cleanup(target.Close)
				redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/elsewhere", status)
				}))
				t.Cleanup(redirector.Close)

				cfg := ClientConfig{}
				if custom {
					// A client that would follow redirects: the Client
					// must still not.
					cfg.HTTPClient = &http.Client{}
				}
				b := setupDeliver(t, cfg)
				err := b.client.Deliver(context.Background(), endpoint(redirector), "evt_1", []byte(`{}`))
				var de *DeliveryError
				if !errors.As(err, &de) || de.StatusCode != status {
					t.Fatalf("Deliver = %v, want a DeliveryError with status %d", err, status)
				}
				if de.Permanent() {
					t.Error("a redirect is reported as permanent")
				}
				checkRedacted(t, err)
				if n := targetHits.Load(); n != 0 {
					t.Errorf("the redirect target got %d requests, want 0", n)
				}
			})
		}
	}
}

func TestDeliverConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}

	b := setupDeliver(t, ClientConfig{})
	err = b.client.Deliver(context.Background(), "http://"+addr+"/hooks/"+pathToken+"?token="+queryToken, "evt_1", []byte(`{}`))
	var de *DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("Deliver = %v, want a *DeliveryError", err)
	}
	if de.StatusCode != 0 || de.Permanent() {
		t.Errorf("StatusCode = %d, Permanent = %v, want 0 and false", de.StatusCode, de.Permanent())
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Deliver = %v, want it to wrap ECONNREFUSED", err)
	}
	checkRedacted(t, err)
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the host", err)
	}
}

func TestDeliverTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets the server notice the client
		// closing, which cancels r.Context.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done(): // the client gave up and closed
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)

	b := setupDeliver(t, ClientConfig{Timeout: 200 * time.Millisecond})
	start := time.Now()
	err := b.client.Deliver(context.Background(), endpoint(srv), "evt_1", []byte(`{}`))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Deliver took %s with a 200ms timeout", elapsed)
	}
	var de *DeliveryError
	if !errors.As(err, &de) || de.StatusCode != 0 || de.Permanent() {
		t.Fatalf("Deliver = %v, want a transient DeliveryError without status", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Deliver = %v, want a timeout", err)
	}
	checkRedacted(t, err)
}

func TestDeliverCancelled(t *testing.T) {
	t.Parallel()
	// The handler does not read the body: a cancel can land before the
	// client has sent it, and the server must not wait for it.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.CloseClientConnections(); srv.Close() })

	b := setupDeliver(t, ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := b.client.Deliver(ctx, endpoint(srv), "evt_1", []byte(`{}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Deliver = %v, want context.Canceled", err)
	}
	checkRedacted(t, err)
}

func TestDeliverInvalidRequest(t *testing.T) {
	t.Parallel()
	b := setupDeliver(t, ClientConfig{})
	cases := []struct{ name, url, id string }{
		{"unparsable", "http://exa mple.com/hooks/" + pathToken + "?token=" + queryToken, "evt_1"},
		{"bad escape", "http://example.com/%zz" + pathToken + "?token=" + queryToken, "evt_1"},
		{"bad port", "http://example.com:" + queryToken + "/", "evt_1"},
		{"no scheme", "example.com/hooks/" + pathToken, "evt_1"},
		{"relative", "/hooks/" + pathToken, "evt_1"},
		{"ftp", "ftp://example.com/" + pathToken, "evt_1"},
		{"no host", "http:///" + pathToken, "evt_1"},
		{"empty", "", "evt_1"},
		{"user info", "https://user:" + queryToken + "@example.com/" + pathToken, "evt_1"},
		{"plain http to a public host", "http://example.com/hooks/" + pathToken + "?token=" + queryToken, "evt_1"},
		{"private address", "https://10.0.0.1/hooks/" + pathToken + "?token=" + queryToken, "evt_1"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/" + pathToken, "evt_1"},
		{"localhost", "https://localhost/hooks/" + pathToken, "evt_1"},
		{"empty id", "http://127.0.0.1:1/", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := b.client.Deliver(context.Background(), tc.url, tc.id, []byte(`{}`))
			var de *DeliveryError
			if !errors.As(err, &de) || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("Deliver = %v, want a DeliveryError wrapping ErrInvalidRequest", err)
			}
			if !de.Permanent() {
				t.Error("Permanent() = false, want true")
			}
			checkRedacted(t, err)
		})
	}
}

// TestDeliverRetryHeaders checks what the receiver sees across retries: the
// same webhook-id, and a timestamp taken at each attempt, so a retry hours
// later still passes the receiver's 5-minute tolerance.
func TestDeliverRetryHeaders(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)

	b := setupDeliver(t, ClientConfig{})
	clock := time.Unix(1_700_000_000, 0)
	body := []byte(`{}`)
	for i := range 3 {
		b.client.now = func() time.Time { return clock.Add(time.Duration(i) * time.Hour) }
		_ = b.client.Deliver(context.Background(), srv.URL, "evt_stable", body)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(seen))
	}
	for i, h := range seen {
		if got := h.Get("webhook-id"); got != "evt_stable" {
			t.Errorf("attempt %d: webhook-id = %q", i, got)
		}
		at := clock.Add(time.Duration(i) * time.Hour)
		if got, want := h.Get("webhook-timestamp"), strconv.FormatInt(at.Unix(), 10); got != want {
			t.Errorf("attempt %d: webhook-timestamp = %s, want %s", i, got, want)
		}
		b.verifier.now = func() time.Time { return at.Add(time.Second) }
		if err := b.verifier.Verify(body, h); err != nil {
			t.Errorf("attempt %d does not verify at its own time: %v", i, err)
		}
	}
}

// TestDeliverDrainsForReuse checks that a short response body is drained so
// the next delivery reuses the connection, and that a long one is not read
// to its end.
func TestDeliverDrainsForReuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		size      int
		wantConns int32
	}{
		{"short body reuses", 1 << 10, 1},
		{"long body is abandoned", 1 << 20, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(tc.size))
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(strings.Repeat("x", tc.size)))
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)

			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			b := setupDeliver(t, ClientConfig{HTTPClient: &http.Client{Transport: tr}})
			for range 2 {
				var de *DeliveryError
				if err := b.client.Deliver(context.Background(), srv.URL, "evt_1", []byte(`{}`)); !errors.As(err, &de) || de.StatusCode != 500 {
					t.Fatalf("Deliver = %v, want status 500", err)
				}
			}
			if n := conns.Load(); n != tc.wantConns {
				t.Errorf("server saw %d connections, want %d", n, tc.wantConns)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"30", 30 * time.Second},
		{" 30 ", 30 * time.Second},
		{"86400", 24 * time.Hour},
		{"86401", 24 * time.Hour},
		{"99999999999999999999", 24 * time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
		{"Sunday, 01-Jun-25 12:02:00 GMT", 2 * time.Minute}, // RFC 850, also allowed
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	if _, err := NewClient(ClientConfig{}); err == nil {
		t.Error("NewClient without a Signer: want an error")
	}
	if _, err := NewClient(ClientConfig{Signer: mustSigner(t, newSecret(t)), Timeout: -time.Second}); err == nil {
		t.Error("NewClient with a negative Timeout: want an error")
	}
	c, err := NewClient(ClientConfig{Signer: mustSigner(t, newSecret(t))})
	if err != nil {
		t.Fatal(err)
	}
	if c.timeout != DefaultTimeout || c.http.Timeout != DefaultTimeout || c.userAgent != DefaultUserAgent || c.http.CheckRedirect == nil {
		t.Errorf("defaults not filled: timeout %s, client timeout %s, user agent %q", c.timeout, c.http.Timeout, c.userAgent)
	}
}
