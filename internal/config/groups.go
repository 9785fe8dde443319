package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/realname-io/realname/internal/cache"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/webhook"
)

// Redis is where the queue, the results and the shared limits live.
type Redis struct {
	// URL is a redis:// URL. No default: the demo embeds a Redis when it is
	// empty, other commands require it.
	URL string
	// ResultRetention is how long results are kept. Defaults to 720h (30
	// days).
	ResultRetention time.Duration

	bindErr func() error // reports bad environment values, checked by Client
}

// BindRedis registers the Redis settings on fs.
func BindRedis(fs *pflag.FlagSet, getenv Getenv) (*Redis, func() error) {
	c := &Redis{}
	b := &binder{fs: fs, getenv: getenv}
	b.str(&c.URL, "redis-url", "", "Redis URL, e.g. redis://127.0.0.1:6379/0")
	b.duration(&c.ResultRetention, "result-retention", 30*24*time.Hour, "how long results are kept")
	c.bindErr = b.err
	return c, b.err
}

// Client returns a client for URL, or an error: a bad environment value of
// the Redis settings, or how to set URL when it is empty. Commands that need
// only Redis call it and nothing else.
func (c *Redis) Client() (redis.UniversalClient, error) {
	if c.bindErr != nil {
		if err := c.bindErr(); err != nil {
			return nil, err
		}
	}
	if c.URL == "" {
		return nil, fmt.Errorf("config: REALNAME_REDIS_URL (--redis-url) is required")
	}
	return RedisClient(c.URL)
}

// Tencent is the provider client's configuration.
type Tencent struct {
	// SecretID is the API key's SecretId.
	SecretID string
	// SecretKey is the API key's SecretKey.
	SecretKey Secret
	// Endpoint defaults to tencentv2.DefaultEndpoint.
	Endpoint string
	// Region defaults to empty (the gateway's "all").
	Region string
	// Method defaults to POST.
	Method string
	// SignatureMethod defaults to HmacSHA1.
	SignatureMethod string
	// Timeout of one HTTP attempt. Defaults to 10s.
	Timeout time.Duration
}

// BindTencent registers the provider settings on fs.
func BindTencent(fs *pflag.FlagSet, getenv Getenv) (*Tencent, func() error) {
	c := &Tencent{}
	b := &binder{fs: fs, getenv: getenv}
	b.str(&c.SecretID, "tencent-secret-id", "", "Tencent Cloud SecretId")
	b.secret(&c.SecretKey, "tencent-secret-key", "the Tencent Cloud SecretKey")
	b.str(&c.Endpoint, "tencent-endpoint", tencentv2.DefaultEndpoint, "v2 endpoint URL")
	b.str(&c.Region, "tencent-region", "", "Region parameter (empty: the gateway's default, all)")
	b.str(&c.Method, "tencent-method", "POST", "HTTP method: GET or POST")
	b.str(&c.SignatureMethod, "tencent-signature-method", "HmacSHA1", "HmacSHA1 or HmacSHA256")
	b.duration(&c.Timeout, "tencent-timeout", 10*time.Second, "timeout of one provider request")
	return c, b.err
}

// credentials returns the API key, or an error naming the missing
// setting.
func (c *Tencent) credentials() (id, key string, err error) {
	if c.SecretID == "" {
		return "", "", fmt.Errorf("config: REALNAME_TENCENT_SECRET_ID (--tencent-secret-id) is required")
	}
	key, err = c.SecretKey.Required()
	return c.SecretID, key, err
}

// Client returns the v2 gateway client this configuration describes.
func (c *Tencent) Client() (*tencentv2.Client, error) {
	_, key, err := c.credentials()
	if err != nil {
		return nil, err
	}
	sm, err := tencentv2.ParseSignatureMethod(c.SignatureMethod)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return tencentv2.New(tencentv2.Config{
		SecretID: c.SecretID, SecretKey: key, Endpoint: c.Endpoint, Region: c.Region,
		Method: c.Method, SignatureMethod: sm, Timeout: c.Timeout,
	})
}

// Worker is the worker's configuration.
type Worker struct {
	// Concurrency defaults to 20.
	Concurrency int
	// RateLimit is provider calls per second across all workers. Defaults
	// to 50.
	RateLimit int
	// LocalRateLimit caps provider calls per second of this process.
	// Defaults to 0: no local cap.
	LocalRateLimit int
	// RateBurst is how many calls a limit lets through at once after a
	// quiet spell. Defaults to 1: calls evenly spread.
	RateBurst int
	// RateHeadroom is the share of each limit left unused against network
	// jitter, so that a provider's strict sliding window refuses nothing.
	// Defaults to 0.015.
	RateHeadroom float64
	// BulkRateShare caps the share of each limit bulk jobs may take.
	// Defaults to 1: all that signups leave.
	BulkRateShare float64
	// ShutdownTimeout defaults to 30s.
	ShutdownTimeout time.Duration
	// JobDeadline defaults to 24h.
	JobDeadline time.Duration
	// StrictPriority defaults to false.
	StrictPriority bool
	// BulkConcurrency defaults to 0: sized from the quotas and
	// ProviderLatency.
	BulkConcurrency int
	// ProviderLatency defaults to 250ms.
	ProviderLatency time.Duration
	// DailyBudget caps provider calls per day; 0 (the default) is no cap.
	DailyBudget int
	// BudgetStopsSignup defaults to false.
	BudgetStopsSignup bool
	// MaxAttemptsPerOrder defaults to 12.
	MaxAttemptsPerOrder int
	// CacheSecret keys the result cache; the cache is off without it.
	CacheSecret Secret
	// CacheTTL defaults to 168h (7 days).
	CacheTTL time.Duration
	// SpoolDir is where the worker keeps, on local disk, the answers it
	// cannot store in Redis yet (see package spool); the workers of one
	// host may share it. Defaults to DefaultSpoolDir.
	SpoolDir string
}

// DefaultSpoolDir is the spool directory used when none is set:
// $STATE_DIRECTORY/spool under systemd's StateDirectory=, else
// $XDG_STATE_HOME/realname/spool, else ~/.local/state/realname/spool.
func DefaultSpoolDir(getenv Getenv) string {
	if d, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); d != "" {
		return filepath.Join(d, "spool")
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "realname", "spool")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "state", "realname", "spool")
	}
	return filepath.Join(os.TempDir(), "realname-spool")
}

// BindWorker registers the worker settings on fs.
func BindWorker(fs *pflag.FlagSet, getenv Getenv) (*Worker, func() error) {
	c := &Worker{}
	b := &binder{fs: fs, getenv: getenv}
	b.integer(&c.Concurrency, "concurrency", 20, "tasks processed at once")
	b.integer(&c.RateLimit, "rate-limit", 50, "provider calls per second, shared by all workers")
	b.integer(&c.LocalRateLimit, "local-rate-limit", 0, "cap on provider calls per second of this process (0: none)")
	b.integer(&c.RateBurst, "rate-burst", 1, "calls a limit lets through at once after a quiet spell (1: evenly spread)")
	b.float(&c.RateHeadroom, "rate-headroom", ratelimit.DefaultHeadroom, "share of each limit left unused against network jitter")
	b.float(&c.BulkRateShare, "bulk-rate-share", 1, "cap on the share of each limit bulk jobs take (1: all that signups leave)")
	b.duration(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight calls may finish on stop")
	b.duration(&c.JobDeadline, "job-deadline", 24*time.Hour, "a job without an answer this long after enqueue ends with an error")
	b.boolean(&c.StrictPriority, "strict-priority", false, "serve webhooks only when no signup job waits")
	b.integer(&c.BulkConcurrency, "bulk-concurrency", 0, "bulk verifications processed at once, in a pool of their own (0: enough to hold the quotas at --provider-latency)")
	b.duration(&c.ProviderLatency, "provider-latency", 250*time.Millisecond, "provider latency the default --bulk-concurrency is sized for")
	b.integer(&c.DailyBudget, "daily-budget", 0, "provider calls per day (CST); reached, the bulk queue pauses (0: no cap)")
	b.boolean(&c.BudgetStopsSignup, "budget-stops-signup", false, "pause the signup queue too when the daily budget is reached")
	b.integer(&c.MaxAttemptsPerOrder, "max-attempts-per-order", 12, "provider calls allowed for one order number")
	b.secret(&c.CacheSecret, "cache-secret", "the result cache's key (at least 16 bytes; the cache is off without it)")
	b.duration(&c.CacheTTL, "cache-ttl", 7*24*time.Hour, "how long an answer is reused for the same kind and identity")
	b.str(&c.SpoolDir, "spool-dir", DefaultSpoolDir(getenv), "directory where answers wait, on local disk, until Redis can store them; shared by the workers of a host")
	return c, b.err
}

// Cache returns the result cache, or nil when no secret is configured.
func (c *Worker) Cache(rdb redis.UniversalClient) (*cache.Cache, error) {
	secret, err := c.CacheSecret.Value()
	if err != nil || secret == "" {
		return nil, err
	}
	ch, err := cache.New(rdb, cache.Config{Secret: []byte(secret), TTL: c.CacheTTL})
	if err != nil {
		return nil, fmt.Errorf("config: REALNAME_CACHE_SECRET: %w", err)
	}
	return ch, nil
}

// RateLimitConfig returns the limiter configuration.
func (c *Worker) RateLimitConfig() ratelimit.Config {
	headroom := c.RateHeadroom
	if headroom == 0 {
		headroom = -1 // ratelimit reads 0 as its default
	}
	return ratelimit.Config{Rate: c.RateLimit, LocalRate: float64(c.LocalRateLimit), Burst: c.RateBurst, Headroom: headroom}
}

// WebhookPolicy says which callback URLs are accepted and where webhooks
// may be delivered: every component that accepts a callback URL (the API,
// `realname enqueue`, the producer, the worker's default URL) and the
// worker's delivery client apply the same one.
type WebhookPolicy struct {
	// Allow lists, separated by commas or spaces, CIDRs (127.0.0.0/8), IP
	// addresses (::1) and host names (hooks.internal.example) that
	// webhooks may go to although they are loopback, private, link-local
	// or otherwise not public, and for which plain http is accepted.
	// Defaults to none: public https endpoints only.
	Allow string
	// MaxURLLength bounds a callback URL's length in bytes. Defaults to
	// webhook.DefaultMaxURLLen (2048).
	MaxURLLength int
}

func (c *WebhookPolicy) bind(b *binder) {
	b.str(&c.Allow, "webhook-allow", "", "CIDRs, IP addresses and host names webhooks may go to although not public (loopback, private, ...), and for which plain http is accepted; comma-separated (default: none, public https endpoints only)")
	b.integer(&c.MaxURLLength, "webhook-max-url-length", webhook.DefaultMaxURLLen, "longest callback URL accepted, in bytes")
}

// BindWebhookPolicy registers the callback URL settings on fs, for a
// command that accepts callback URLs but does not deliver (the API).
// BindWebhook registers them too.
func BindWebhookPolicy(fs *pflag.FlagSet, getenv Getenv) (*WebhookPolicy, func() error) {
	c := &WebhookPolicy{}
	b := &binder{fs: fs, getenv: getenv}
	c.bind(b)
	return c, b.err
}

// URLPolicy returns the policy the settings describe, or an error naming
// the setting that is wrong.
func (c *WebhookPolicy) URLPolicy() (webhook.URLPolicy, error) {
	p, err := webhook.ParseAllowlist(c.Allow)
	if err != nil {
		return webhook.URLPolicy{}, fmt.Errorf("config: REALNAME_WEBHOOK_ALLOW (--webhook-allow): %w", err)
	}
	if c.MaxURLLength < 0 {
		return webhook.URLPolicy{}, fmt.Errorf("config: REALNAME_WEBHOOK_MAX_URL_LENGTH (--webhook-max-url-length): %d is negative", c.MaxURLLength)
	}
	p.MaxLen = c.MaxURLLength
	return p, nil
}

// Webhook is the webhook configuration.
type Webhook struct {
	// Secrets signs events: whsec_ secrets separated by commas or spaces;
	// during a rotation, list the new and the old.
	Secrets Secret
	// DefaultURL receives events of jobs without a callback URL. It must
	// pass the policy.
	DefaultURL string
	// Schedule is the delivery retry schedule. Defaults to
	// webhook.DefaultSchedule.
	Schedule string
	// InlineTimeout bounds the first delivery of an event, made at once by
	// the worker that stored the result. Defaults to 2s; a negative value
	// sends every event through the webhooks queue.
	InlineTimeout time.Duration
	// WebhookPolicy is which callback URLs are accepted, and the delivery
	// client's allowlist.
	WebhookPolicy
	// Proxy is the URL of an HTTP(S) or SOCKS5 proxy every delivery goes
	// through. Defaults to none: deliveries connect directly, and the
	// proxy environment variables (HTTPS_PROXY, ...) are ignored. A proxy
	// resolves and dials the endpoints itself, past the delivery client's
	// guard of non-public addresses: it must enforce its own egress rules.
	Proxy string
}

// BindWebhook registers the webhook settings on fs, those of
// BindWebhookPolicy included.
func BindWebhook(fs *pflag.FlagSet, getenv Getenv) (*Webhook, func() error) {
	c := &Webhook{}
	b := &binder{fs: fs, getenv: getenv}
	b.secret(&c.Secrets, "webhook-secret", "the webhook signing secrets (whsec_…, comma-separated during a rotation)")
	b.str(&c.DefaultURL, "webhook-url", "", "default webhook endpoint")
	b.str(&c.Schedule, "webhook-schedule", "", "retry delays, e.g. 5s,5m,30m,2h,5h,10h,10h (default: about 27h in all)")
	b.duration(&c.InlineTimeout, "webhook-inline-timeout", 2*time.Second, "bound on an event's first delivery, made at once by the worker that stored the result (negative: every event through the webhooks queue)")
	c.WebhookPolicy.bind(b)
	b.str(&c.Proxy, "webhook-proxy", "", "proxy URL for deliveries, http://, https:// or socks5:// (default: none; HTTPS_PROXY and the like are ignored); the proxy dials past the guard of private addresses")
	return c, b.err
}

// Policy returns the callback URL policy, having checked DefaultURL
// against it: an error names the setting that is wrong.
func (c *Webhook) Policy() (webhook.URLPolicy, error) {
	p, err := c.URLPolicy()
	if err != nil {
		return p, err
	}
	if c.DefaultURL != "" {
		if err := p.Check(c.DefaultURL); err != nil {
			return webhook.URLPolicy{}, fmt.Errorf("config: REALNAME_WEBHOOK_URL (--webhook-url): %w", err)
		}
	}
	return p, nil
}

// proxyURL parses Proxy; nil when it is empty.
func (c *Webhook) proxyURL() (*url.URL, error) {
	if c.Proxy == "" {
		return nil, nil
	}
	// The URL may hold the proxy's credentials: never quoted.
	u, err := url.Parse(c.Proxy)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h") {
		return nil, fmt.Errorf("config: REALNAME_WEBHOOK_PROXY (--webhook-proxy): must be an http://, https:// or socks5:// URL with a host")
	}
	return u, nil
}

// Client returns the delivery client, or nil when no secret is configured
// (webhooks off). It also returns the retry schedule. The client dials
// through the guard of non-public addresses, with the policy's allowlist,
// or through Proxy.
func (c *Webhook) Client() (*webhook.Client, webhook.Schedule, error) {
	sched := webhook.DefaultSchedule
	if c.Schedule != "" {
		s, err := webhook.ParseSchedule(c.Schedule)
		if err != nil {
			return nil, nil, fmt.Errorf("config: REALNAME_WEBHOOK_SCHEDULE: %w", err)
		}
		sched = s
	}
	policy, err := c.Policy()
	if err != nil {
		return nil, nil, err
	}
	proxy, err := c.proxyURL()
	if err != nil {
		return nil, nil, err
	}
	raw, err := c.Secrets.Value()
	if err != nil {
		return nil, nil, err
	}
	if raw == "" {
		if c.DefaultURL != "" {
			return nil, nil, fmt.Errorf("config: REALNAME_WEBHOOK_SECRET is required when a webhook URL is set")
		}
		return nil, sched, nil
	}
	var secrets []webhook.Secret
	for _, s := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		sec, err := webhook.ParseSecret(s)
		if err != nil {
			return nil, nil, fmt.Errorf("config: REALNAME_WEBHOOK_SECRET: %w", err)
		}
		secrets = append(secrets, sec)
	}
	signer, err := webhook.NewSigner(secrets...)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	client, err := webhook.NewClient(webhook.ClientConfig{Signer: signer, Policy: policy, Proxy: proxy})
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return client, sched, nil
}
