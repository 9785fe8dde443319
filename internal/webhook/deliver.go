package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds one delivery attempt, from dialling to the
	// response's status line.
	DefaultTimeout = 10 * time.Second
	// DefaultUserAgent is sent with every delivery unless configured.
	DefaultUserAgent = "realname-webhooks/1"
	// MaxRetryAfter caps a receiver's Retry-After, so a misconfigured
	// receiver cannot park an event for longer than a day.
	MaxRetryAfter = 24 * time.Hour
)

// maxDrain is how much of a response body Deliver reads, and throws away,
// so the connection can be reused; a longer body costs a new connection
// rather than unbounded reading.
const maxDrain = 64 << 10

// ErrInvalidRequest is wrapped by a DeliveryError when the delivery could not
// even be built: an endpoint the Client's URLPolicy refuses (it then wraps
// the *URLError too), or an empty webhook id. Such a DeliveryError is
// Permanent.
var ErrInvalidRequest = errors.New("webhook: invalid delivery request")

// ClientConfig configures a Client.
type ClientConfig struct {
	// Signer signs every delivery. Required.
	Signer *Signer
	// HTTPClient sends the requests. Defaults to a client on a copy of
	// http.DefaultTransport that keeps MaxIdleConnsPerHost idle
	// connections per receiver, with Timeout as its timeout, that dials
	// through the dial guard (see Policy) and uses Proxy, never the proxy
	// environment variables. A given HTTPClient dials as it pleases: the
	// guard is not on it, only the Policy's check of each URL. Whatever
	// is given, Deliver never follows redirects: the Client uses a copy
	// whose CheckRedirect returns http.ErrUseLastResponse.
	HTTPClient *http.Client
	// Policy is checked against every endpoint before its delivery (a
	// refused one is an ErrInvalidRequest), and its allowlist is the dial
	// guard's: a connection to a loopback, private, link-local (cloud
	// metadata included), CGNAT, multicast, IPv6 unique-local or
	// IPv4-mapped, or otherwise special-purpose address is refused
	// (ErrDeniedAddress) unless the address is in Policy.Allow or the
	// endpoint's host is in Policy.AllowHosts. The zero value delivers to
	// public https endpoints only.
	Policy URLPolicy
	// Proxy, when set, is the HTTP(S) or SOCKS5 proxy every delivery goes
	// through. The proxy then resolves and dials the endpoints, so the
	// dial guard does not see them (it does not check the proxy's own
	// address either): the proxy must enforce its own egress rules. The
	// Policy's check of each URL still applies. Without it, deliveries
	// connect directly; HTTP_PROXY, HTTPS_PROXY and NO_PROXY are ignored.
	Proxy *url.URL
	// Resolver resolves endpoints' host names for the default HTTP client.
	// Defaults to net.DefaultResolver; tests give one of their own.
	Resolver *net.Resolver
	// Timeout bounds each attempt. Defaults to DefaultTimeout (10s).
	Timeout time.Duration
	// UserAgent is sent as User-Agent. Defaults to DefaultUserAgent.
	UserAgent string
}

// Client delivers signed webhook bodies to customers' endpoints, one attempt
// per Deliver call; the caller (the webhook task) owns retries and their
// Schedule. A Client is safe for concurrent use.
type Client struct {
	signer    *Signer
	policy    URLPolicy
	http      *http.Client
	timeout   time.Duration
	userAgent string
	now       func() time.Time
}

// MaxIdleConnsPerHost is how many idle connections to one receiver the
// default HTTP client keeps for reuse: a worker delivers many events at
// once, often to one endpoint, and net/http's default of 2 would open (and
// over TLS, handshake) a new connection for nearly every event.
const MaxIdleConnsPerHost = 64

// NewClient validates cfg, fills in its defaults and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Signer == nil {
		return nil, errors.New("webhook: new client: Signer is required")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("webhook: new client: negative Timeout %s", cfg.Timeout)
	}
	if cfg.Proxy != nil {
		switch cfg.Proxy.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			return nil, errors.New("webhook: new client: Proxy must be an http, https or socks5 URL")
		}
		if cfg.Proxy.Host == "" {
			return nil, errors.New("webhook: new client: Proxy has no host")
		}
	}
	timeout := cmp.Or(cfg.Timeout, DefaultTimeout)
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	} else {
		hc.Timeout = timeout
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
		// The environment's proxy would do the dialing, past the guard:
		// only an explicit Proxy is used.
		t.Proxy = nil
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: cfg.Resolver}
		if cfg.Proxy != nil {
			t.Proxy = http.ProxyURL(cfg.Proxy)
			t.DialContext = dialer.DialContext // only ever the proxy's address
		} else {
			t.DialContext = guardedDial(dialer, cfg.Policy)
		}
		hc.Transport = t
	}
	// A redirect is a failure: following one would send a signed body to an
	// address the customer did not register.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		signer:    cfg.Signer,
		policy:    cfg.Policy,
		http:      &hc,
		timeout:   timeout,
		userAgent: cmp.Or(cfg.UserAgent, DefaultUserAgent),
		now:       time.Now,
	}, nil
}

// DeliveryError is the outcome of an attempt that did not get a 2xx answer.
type DeliveryError struct {
	// StatusCode is the response's status, or 0 when none came (connection
	// refused or reset, timeout, cancelled context, unbuildable request).
	StatusCode int
	// RetryAfter is the receiver's Retry-After, as a delay from when the
	// answer came, capped at MaxRetryAfter; 0 when absent or unparsable.
	RetryAfter time.Duration
	// Err is the cause when no status came; nil otherwise. It never
	// holds the endpoint's query string, user info or path.
	Err error
}

// Error names the status or the cause; it never includes the response body
// or the endpoint's query string.
func (e *DeliveryError) Error() string {
	if errors.Is(e.Err, ErrInvalidRequest) {
		return e.Err.Error() // already says what, and that it is ours
	}
	var b strings.Builder
	b.WriteString("webhook: delivery failed: ")
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "status %d", e.StatusCode)
		if text := http.StatusText(e.StatusCode); text != "" {
			fmt.Fprintf(&b, " %s", text)
		}
		if e.StatusCode >= 300 && e.StatusCode < 400 {
			b.WriteString(" (redirects are not followed)")
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("unknown cause")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Permanent reports whether retrying is pointless: the receiver answered
// 410 Gone (it asks us to stop), the request could not be built, or the
// dial guard refused the address the endpoint resolved to. Every other
// failure, including 4xx answers, is worth retrying on the Schedule.
func (e *DeliveryError) Permanent() bool {
	return e.StatusCode == http.StatusGone || errors.Is(e.Err, ErrInvalidRequest) || errors.Is(e.Err, ErrDeniedAddress)
}

// Deliver makes one attempt to POST body to endpoint, signed with a
// timestamp taken now and the given webhook id, which must stay the same
// across retries of one event so the receiver can deduplicate. It returns
// nil for a 2xx answer and a *DeliveryError for anything else, including a
// redirect.
func (c *Client) Deliver(ctx context.Context, endpoint string, id string, body []byte) error {
	if id == "" {
		return &DeliveryError{Err: fmt.Errorf("%w: empty webhook id", ErrInvalidRequest)}
	}
	// The URL was checked when it was accepted; checked again, it catches
	// one accepted before the policy was, or under a looser one.
	if err := c.policy.Check(endpoint); err != nil {
		return &DeliveryError{Err: fmt.Errorf("%w: %w", ErrInvalidRequest, err)}
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		// url.Parse's error quotes the whole URL, and even its inner
		// error may quote part of the query: neither is kept.
		return &DeliveryError{Err: fmt.Errorf("%w: endpoint does not parse as a URL", ErrInvalidRequest)}
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &DeliveryError{Err: fmt.Errorf("%w: %w", ErrInvalidRequest, redact(err, u))}
	}
	for k, v := range c.signer.Headers(id, c.now(), body) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		return &DeliveryError{Err: redact(err, u)}
	}
	// Drain a little so the connection can be reused; the body's content
	// is never looked at, let alone reported.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &DeliveryError{
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
}

// redact replaces the URL in a *url.Error with scheme://host, since the
// rest of a customer's endpoint (user info, path, query) may hold their
// tokens. Other errors are returned as they are.
func redact(err error, u *url.URL) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: redactedURL(u), Err: ue.Err}
}

// redactedURL keeps what is needed to tell endpoints apart in a log.
func redactedURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}

// parseRetryAfter reads a Retry-After value, delta-seconds or an HTTP-date
// taken relative to now, as a delay capped at MaxRetryAfter. It returns 0
// for an absent, unparsable or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if strings.Trim(v, "0123456789") == "" { // delta-seconds
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter // only ErrRange is possible: all digits
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
