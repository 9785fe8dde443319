package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/realname-io/realname/internal/provider/transport"
)

// TestNewClientDoesNotFollowRedirects checks that a redirect comes back as
// the answer and the place it points to is never asked.
func TestNewClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
	}{
		{"302", http.StatusFound},
		{"307 keeps the method and body", http.StatusTemporaryRedirect},
		{"308 keeps the method and body", http.StatusPermanentRedirect},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var followed atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("/verify", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", tc.status)
			})
			mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Add(1) })
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)

			hc := transport.NewClient()
			resp, err := hc.Post(srv.URL+"/verify", "application/x-www-form-urlencoded", strings.NewReader("Signature=secret"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || followed.Load() != 0 {
				t.Fatalf("status %d, redirect followed %d times; want %d, never", resp.StatusCode, followed.Load(), tc.status)
			}
		})
	}
}

// TestNewClientOwnTransport checks that each client has its own transport,
// so that tuning one does not tune every user of http.DefaultTransport.
func TestNewClientOwnTransport(t *testing.T) {
	t.Parallel()
	a, b := transport.NewClient(), transport.NewClient()
	if a.Transport == http.DefaultTransport || a.Transport == b.Transport {
		t.Fatal("NewClient shares a transport")
	}
	if _, ok := a.Transport.(*http.Transport); !ok {
		t.Fatalf("transport is a %T, want a clone of http.DefaultTransport", a.Transport)
	}
}

// TestTraceWrite checks that a request counts as written exactly when its
// last byte left, whether or not an answer came back.
func TestTraceWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		url   func(t *testing.T) string
		send  bool
		wrote bool
	}{
		{"not sent", answering, false, false},
		{"answered", answering, true, true},
		{"connection cut after the request was read", hangingUp, true, true},
		{"connection refused", refusing, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, wrote := transport.TraceWrite(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tc.url(t), strings.NewReader("IdCard=x"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.send {
				resp, err := transport.NewClient().Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			if got := wrote(); got != tc.wrote {
				t.Fatalf("wrote() = %v, want %v", got, tc.wrote)
			}
		})
	}
}

// TestTraceWriteKeepsOuterTrace checks that a trace already in the context
// still sees the request.
func TestTraceWriteKeepsOuterTrace(t *testing.T) {
	t.Parallel()
	var outer atomic.Bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { outer.Store(true) },
	})
	ctx, wrote := transport.TraceWrite(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, answering(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := transport.NewClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !wrote() || !outer.Load() {
		t.Fatalf("wrote() = %v, outer trace called %v; want both", wrote(), outer.Load())
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	secretURL := "https://provider.example/?IdCard=11010519491231002X&Signature=c2VjcmV0"
	inner := errors.New("connection reset by peer")
	plain := errors.New("no answer")
	cases := []struct {
		name   string
		err    error
		want   string // "" for a nil error
		target error  // errors.Is must still reach it
	}{
		{"url.Error", &url.Error{Op: "Post", URL: secretURL, Err: inner}, "post: connection reset by peer", inner},
		{"GET", &url.Error{Op: "Get", URL: secretURL, Err: io.EOF}, "get: EOF", io.EOF},
		{"wrapped url.Error", fmt.Errorf("call: %w", &url.Error{Op: "Post", URL: secretURL, Err: inner}), "post: connection reset by peer", inner},
		{"deadline", &url.Error{Op: "Post", URL: secretURL, Err: context.DeadlineExceeded}, "post: context deadline exceeded", context.DeadlineExceeded},
		{"other error as is", plain, "no answer", plain},
		{"nil", nil, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := transport.RedactURL(tc.err)
			if tc.err == nil {
				if got != nil {
					t.Fatalf("RedactURL(nil) = %v", got)
				}
				return
			}
			if got.Error() != tc.want || !errors.Is(got, tc.target) {
				t.Fatalf("RedactURL = %q (Is target %v), want %q", got, errors.Is(got, tc.target), tc.want)
			}
			if strings.Contains(got.Error(), "provider.example") || strings.Contains(got.Error(), "1101051949") {
				t.Fatalf("%q keeps the URL", got)
			}
		})
	}
}

func TestCertificateError(t *testing.T) {
	t.Parallel()
	wrapped := func(err error) error { return &url.Error{Op: "Post", URL: "https://provider.example/", Err: err} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"tls.CertificateVerificationError", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, true},
		{"unknown authority", x509.UnknownAuthorityError{}, true},
		{"wrong host name", x509.HostnameError{Host: "provider.example"}, true},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, true},
		{"in a url.Error", wrapped(&tls.CertificateVerificationError{Err: x509.HostnameError{}}), true},
		{"wrapped twice", fmt.Errorf("read: %w", wrapped(x509.CertificateInvalidError{})), true},
		{"other TLS failure", wrapped(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), false},
		{"system roots missing", x509.SystemRootsError{}, false},
		{"refused", wrapped(errors.New("connect: connection refused")), false},
		{"timeout", wrapped(context.DeadlineExceeded), false},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := transport.CertificateError(tc.err); got != tc.want {
				t.Fatalf("CertificateError(%#v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestCertificateErrorFromHandshake checks the error a real handshake with
// an untrusted certificate gives, and that a trusted one is not reported.
func TestCertificateErrorFromHandshake(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	cases := []struct {
		name string
		hc   *http.Client
		want bool
	}{
		{"untrusted", transport.NewClient(), true},
		{"trusted", srv.Client(), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := tc.hc.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			if got := transport.CertificateError(err); got != tc.want {
				t.Fatalf("CertificateError(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	a299 := strings.Repeat("a", 299)
	cases := []struct {
		name string
		msg  string
		want string
	}{
		{"empty", "", ""},
		{"nothing to scrub", "signature expired", "signature expired"},
		{"six digits kept", "code 123456", "code 123456"},
		{"ID number with X", "IdCard 11010519491231002X not found", "IdCard [redacted] not found"},
		{"ID number with x", "IdCard 11010519491231002x", "IdCard [redacted]"},
		{"mobile", "手机号13812345678不一致", "手机号[redacted]不一致"},
		{"bank card and phone", "card 6222021234567890128, phone 13812345678", "card [redacted], phone [redacted]"},
		{"300 bytes kept", strings.Repeat("a", 300), strings.Repeat("a", 300)},
		{"301 bytes cut", strings.Repeat("a", 301), strings.Repeat("a", 300) + "…"},
		{"cut on a rune boundary", a299 + "张三", a299 + "…"},
		{"invalid UTF-8 repaired", "bad \xff\xfe byte", "bad \uFFFD byte"},
		{"repair does not join digits", "123\xff4567", "123\uFFFD4567"},
		{"nor when cut", "123\xff4567" + strings.Repeat("b", 300), "123\uFFFD4567" + strings.Repeat("b", 290) + "…"},
		{"redacted before cut", strings.Repeat("1", 400), "[redacted]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := transport.Scrub(tc.msg); got != tc.want {
				t.Fatalf("Scrub(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}

// FuzzScrub checks what Scrub promises of any provider text: valid UTF-8,
// no run of seven digits, and a bounded length.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{"", "IdCard 11010519491231002X", "123\xff4567", strings.Repeat("张", 120), strings.Repeat("9", 500)} {
		f.Add(s)
	}
	digits := regexp.MustCompile(`[0-9]{7}`)
	f.Fuzz(func(t *testing.T, msg string) {
		got := transport.Scrub(msg)
		if !utf8.ValidString(got) || digits.MatchString(got) || len(got) > 300+len("…") {
			t.Fatalf("Scrub(%q) = %q", msg, got)
		}
	})
}

func TestClockSkew(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		date string
		now  time.Time
		want time.Duration
	}{
		{"provider ahead", now.Add(7 * time.Minute).Format(http.TimeFormat), now, 7 * time.Minute},
		{"provider behind", now.Add(-10 * time.Minute).Format(http.TimeFormat), now, -10 * time.Minute},
		{"in step", now.Format(http.TimeFormat), now, 0},
		{"RFC 850 date", now.Add(time.Hour).Format(time.RFC850), now, time.Hour},
		{"under half a second rounds to zero", now.Format(http.TimeFormat), now.Add(400 * time.Millisecond), 0},
		{"over half a second rounds to one", now.Format(http.TimeFormat), now.Add(600 * time.Millisecond), -time.Second},
		{"no Date header", "", now, 0},
		{"unreadable Date header", "yesterday", now, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := transport.ClockSkew(tc.date, tc.now); got != tc.want {
				t.Fatalf("ClockSkew(%q) = %s, want %s", tc.date, got, tc.want)
			}
		})
	}
}

// answering returns the URL of a server that answers 200.
func answering(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// hangingUp returns the URL of a server that reads the whole request and
// closes the connection without answering: the case that may be billed.
func hangingUp(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// refusing returns the URL of a port nothing listens on.
func refusing(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
