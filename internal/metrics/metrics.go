// Package metrics defines the Prometheus metrics of the workers, the
// collector that reports the queues at scrape time, and the HTTP handler
// that serves them.
//
// Every label value comes from a small fixed set (a kind, a class, a queue,
// an action, an outcome, a code): a value outside its set is reported as
// "other", so neither a bug nor an unexpected answer can put personal data,
// an order number or a job ID into a label (DESIGN.md, invariant 7), nor
// make the number of series grow without bound.
//
// Every method is a no-op on a nil *Metrics, so components take a
// *Metrics and work without one.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/realname-io/realname/internal/provider"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
)

// Namespace prefixes every metric name.
const Namespace = "realname"

// other is the label value of anything outside a label's fixed set.
const other = "other"

// Metrics holds the collectors the worker records into. Create it with New;
// the zero value is not usable, a nil *Metrics is (it records nothing).
type Metrics struct {
	verifications     *prometheus.CounterVec
	providerDuration  *prometheus.HistogramVec
	providerErrors    *prometheus.CounterVec
	rateLimitWait     *prometheus.HistogramVec
	webhookDeliveries *prometheus.CounterVec
	cacheLookups      *prometheus.CounterVec
	redisRoundTrips   *prometheus.CounterVec
	redisCommands     prometheus.Counter
	budgetLeft        prometheus.Gauge
	budgetUsed        prometheus.Gauge
	orphans           *prometheus.CounterVec
	callsCut          *prometheus.CounterVec
}

// New returns Metrics whose collectors are registered with reg. Like
// prometheus.MustRegister it panics if one is registered already: register
// one Metrics per registry. A nil reg registers nothing (for tests that read
// the collectors directly).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "verifications_total",
			Help: "Final results stored, by kind and class (a definitive class, error or cancelled); cached is true for answers from the result cache.",
		}, []string{"kind", "class", "cached"}),
		providerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "provider_request_duration_seconds",
			Help:    "Duration of provider calls (including the client's immediate re-signs of a replay answer), by provider, action and the class of the outcome.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"action", "outcome", "provider"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "provider_errors_total",
			Help: "Provider calls without a definitive answer, by provider, action and code: the provider's code (4100, AuthFailure.SignatureFailure, -11, Throttling.User, …), http_NNN, timeout, transport, bad_answer, unknown_auth_code, canceled or other.",
		}, []string{"action", "code", "provider"}),
		rateLimitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "ratelimit_wait_seconds",
			Help:    "Time a job waited for a rate-limit token before its provider call, by queue.",
			Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"queue"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered, failed (will retry), gone (410, archived) or invalid (cannot be sent, archived).",
		}, []string{"outcome"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "cache_lookups_total",
			Help: "Result cache lookups by result: hit or miss (an unavailable cache counts as a miss: the provider is called).",
		}, []string{"result"}),
		redisRoundTrips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "redis_round_trips_total",
			Help: "Round trips to Redis by this process (asynq's included), by kind: command (one command) or pipeline (several, transactions too).",
		}, []string{"kind"}),
		redisCommands: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "redis_commands_total",
			Help: "Commands sent to Redis by this process (asynq's included), pipelined ones one each; the commands a script runs inside Redis are not counted here (see Redis's INFO commandstats).",
		}),
		budgetLeft: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "budget_left",
			Help: "Provider calls left in today's daily budget (CST); -1 when no budget is set.",
		}),
		budgetUsed: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "budget_used",
			Help: "Provider calls counted against today's daily budget (CST), by every worker sharing the Redis.",
		}),
		orphans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "orphans_recovered_total",
			Help: "Active tasks of a worker that stopped answering (its asynq lease not extended for the orphan period), put back in their queue by this process, by queue.",
		}, []string{"queue"}),
		callsCut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "calls_cut_total",
			Help: "Provider calls found counted but never settled (their worker died during the call): possibly billed, recorded on the job's result, by provider.",
		}, []string{"provider"}),
	}
	m.budgetLeft.Set(-1)
	// Series of small fixed label sets start at zero, so that rates and
	// ratios exist before the first event.
	for _, k := range task.Kinds {
		for _, c := range resultClasses {
			m.verifications.WithLabelValues(string(k), c, "false")
			m.verifications.WithLabelValues(string(k), c, "true")
		}
	}
	for _, o := range []WebhookOutcome{WebhookDelivered, WebhookFailed, WebhookGone, WebhookInvalid} {
		m.webhookDeliveries.WithLabelValues(string(o))
	}
	m.redisRoundTrips.WithLabelValues("command")
	m.redisRoundTrips.WithLabelValues("pipeline")
	for _, q := range []string{task.QueueSignup, task.QueueBulk, task.QueueWebhook} {
		m.orphans.WithLabelValues(q)
	}
	m.cacheLookups.WithLabelValues("hit")
	m.cacheLookups.WithLabelValues("miss")
	if reg != nil {
		reg.MustRegister(m.verifications, m.providerDuration, m.providerErrors, m.rateLimitWait,
			m.webhookDeliveries, m.cacheLookups, m.redisRoundTrips, m.redisCommands, m.budgetLeft, m.budgetUsed,
			m.orphans, m.callsCut)
	}
	return m
}

// OrphanRecovered counts one orphaned task put back in queue.
func (m *Metrics) OrphanRecovered(queue string) {
	if m == nil {
		return
	}
	m.orphans.WithLabelValues(queue).Inc()
}

// CallsCut counts n calls to the named provider that a crash cut: counted,
// never settled, possibly billed.
func (m *Metrics) CallsCut(providerName string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.callsCut.WithLabelValues(providerLabel(providerName)).Add(float64(n))
}

// Verification counts one stored final result of kind (task.Kind) with class
// (a definitive tencent class, store.ClassError or batch.ClassCancelled).
func (m *Metrics) Verification(kind, class string, cached bool) {
	if m == nil {
		return
	}
	m.verifications.WithLabelValues(kindLabel(kind), classLabel(class), strconv.FormatBool(cached)).Inc()
}

// ProviderCall records one call of a provider's action that took d and
// returned ans and err: its duration by the class of its outcome and, when
// err is not nil, an error by ProviderErrorCode.
func (m *Metrics) ProviderCall(providerName, action string, d time.Duration, ans *provider.Answer, err error) {
	if m == nil {
		return
	}
	providerName, action = providerLabel(providerName), actionLabel(action)
	outcome := provider.ClassOf(err)
	if err == nil && ans != nil {
		outcome = ans.Class
	}
	m.providerDuration.WithLabelValues(action, outcomeLabel(outcome), providerName).Observe(d.Seconds())
	if err != nil {
		m.providerErrors.WithLabelValues(action, ProviderErrorCode(err), providerName).Inc()
	}
}

// RedisHook returns a go-redis hook that counts the round trips and
// commands of the client it is added to, into redis_round_trips_total and
// redis_commands_total. On a nil *Metrics it counts nothing.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.m != nil {
			h.m.redisRoundTrips.WithLabelValues("command").Inc()
			h.m.redisCommands.Inc()
		}
		return next(ctx, cmd)
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.m != nil {
			h.m.redisRoundTrips.WithLabelValues("pipeline").Inc()
			h.m.redisCommands.Add(float64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

// RateLimitWait records how long a job of queue waited for its token.
func (m *Metrics) RateLimitWait(queue string, d time.Duration) {
	if m == nil {
		return
	}
	m.rateLimitWait.WithLabelValues(queueLabel(queue)).Observe(d.Seconds())
}

// WebhookOutcome is the outcome of one webhook delivery attempt.
type WebhookOutcome string

// The outcomes of a webhook delivery attempt.
const (
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered WebhookOutcome = "delivered"
	// WebhookFailed: no 2xx answer; the delivery is retried.
	WebhookFailed WebhookOutcome = "failed"
	// WebhookGone: the receiver answered 410 Gone; the task is archived.
	WebhookGone WebhookOutcome = "gone"
	// WebhookInvalid: the delivery cannot be made (a bad URL, an empty ID,
	// an undecodable task); the task is archived.
	WebhookInvalid WebhookOutcome = "invalid"
)

// WebhookOutcomeOf returns the outcome of an error returned by
// webhook.Client.Deliver.
func WebhookOutcomeOf(err error) WebhookOutcome {
	if err == nil {
		return WebhookDelivered
	}
	if errors.Is(err, webhook.ErrInvalidRequest) {
		return WebhookInvalid
	}
	var de *webhook.DeliveryError
	if errors.As(err, &de) && de.StatusCode == http.StatusGone {
		return WebhookGone
	}
	return WebhookFailed
}

// WebhookDelivery counts one webhook delivery attempt.
func (m *Metrics) WebhookDelivery(outcome WebhookOutcome) {
	if m == nil {
		return
	}
	switch outcome {
	case WebhookDelivered, WebhookFailed, WebhookGone, WebhookInvalid:
	default:
		outcome = WebhookFailed
	}
	m.webhookDeliveries.WithLabelValues(string(outcome)).Inc()
}

// CacheLookup counts one lookup in the result cache.
func (m *Metrics) CacheLookup(hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(result).Inc()
}

// SetBudget reports the calls used today against a daily budget of daily
// calls; a daily budget of 0 or less means none, reported as -1 left.
func (m *Metrics) SetBudget(used int64, daily int) {
	if m == nil {
		return
	}
	m.budgetUsed.Set(float64(used))
	if daily <= 0 {
		m.budgetLeft.Set(-1)
		return
	}
	m.budgetLeft.Set(float64(max(0, int64(daily)-used)))
}

// ProviderErrorCode returns the provider_errors_total code of an error of
// a provider's Verify: the provider's own code when it is one of the known
// shape (a v2 gateway code its table knows; a dotted name or a short
// negative number of the other providers), "http_NNN" for a common HTTP
// status without a provider body, "timeout", "transport" (no answer),
// "bad_answer" (a 200 that is not a provider answer), "unknown_auth_code",
// "canceled", or "other".
func ProviderErrorCode(err error) string {
	var apiErr *tencentv2.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Code == 0 {
			return "unknown_auth_code"
		}
		if tencentv2.ClassifyGatewayCode(apiErr.Code) == provider.ClassUnknown {
			return other
		}
		return strconv.Itoa(apiErr.Code)
	}
	var tErr *tencentv2.TransportError
	if errors.As(err, &tErr) && tErr.Err == nil && tErr.StatusCode != 0 {
		if !httpStatuses[tErr.StatusCode] {
			return other
		}
		return "http_" + strconv.Itoa(tErr.StatusCode)
	}
	var pe *provider.Error
	if tErr == nil && errors.As(err, &pe) && pe.Code != "" {
		if status, ok := strings.CutPrefix(pe.Code, "http "); ok {
			if n, _ := strconv.Atoi(status); httpStatuses[n] {
				return "http_" + status
			}
			return other
		}
		if providerCode.MatchString(pe.Code) {
			return pe.Code
		}
		return other
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case tErr != nil && tErr.StatusCode == http.StatusOK:
		return "bad_answer"
	case tErr != nil, pe != nil:
		return "transport"
	}
	return other
}

// providerCode matches the codes the providers' tables are made of: dotted
// names (AuthFailure.SignatureFailure, Throttling.User) and short numbers
// (-11, 402). Nothing it matches can hold an ID, phone or card number.
var providerCode = regexp.MustCompile(`^(-?[0-9]{1,4}(/[0-9]{1,4})?|[A-Za-z][A-Za-z0-9]{0,40}(\.[A-Za-z][A-Za-z0-9]{0,40}){0,3})$`)

// httpStatuses are the HTTP statuses reported by their own code; any other
// is "other".
var httpStatuses = map[int]bool{
	400: true, 401: true, 403: true, 404: true, 405: true, 408: true, 429: true,
	500: true, 502: true, 503: true, 504: true,
}

// resultClasses are the classes a stored result can have.
var resultClasses = []string{
	string(provider.ClassMatch), string(provider.ClassMismatch), string(provider.ClassInvalidCard),
	string(provider.ClassCardUnusable), string(provider.ClassNoRecord), string(provider.ClassIdentityLimit),
	string(provider.ClassBadRequest), store.ClassError, batch.ClassCancelled,
}

// outcomes are the classes of a provider call's outcome.
var outcomes = provider.Classes

// actions are the actions of every provider: Tencent v2, Tencent API 3.0
// (faceid) and Alibaba Cloud (cloudauth).
var actions = []string{
	tencentv2.ActionIDCardAuth, tencentv2.ActionMobileAuth3, tencentv2.ActionBankCard3Auth, tencentv2.ActionBankCardAuth4,
	"IdCardVerification", "PhoneVerification", "BankCardVerification", "BankCard4EVerification",
	"Id2MetaVerify", "Mobile3MetaSimpleVerify", "Mobile3MetaDetailVerify", "BankMetaVerify",
}

// providers are the names of the providers.
var providers = []string{tencentv2.Name, "tencent-v3", "aliyun"}

func providerLabel(s string) string { return oneOf(s, providers, other) }

var queues = []string{task.QueueSignup, task.QueueBulk, task.QueueWebhook}

func kindLabel(s string) string {
	for _, k := range task.Kinds {
		if s == string(k) {
			return s
		}
	}
	return other
}

func classLabel(s string) string { return oneOf(s, resultClasses, other) }

func actionLabel(s string) string { return oneOf(s, actions, other) }

func queueLabel(s string) string { return oneOf(s, queues, other) }

func outcomeLabel(c provider.Class) string {
	for _, o := range outcomes {
		if c == o {
			return string(c)
		}
	}
	return string(provider.ClassUnknown)
}

func oneOf(s string, set []string, def string) string {
	for _, v := range set {
		if s == v {
			return s
		}
	}
	return def
}

// Handler serves the metrics of g in the Prometheus text format. A
// collector that fails does not fail the scrape: the rest is served. At
// most four scrapes run at once, and one that takes over 10s is answered
// 503.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// NewServer returns an HTTP server for addr that serves Handler(g) at
// /metrics, with timeouts that keep a slow or idle client from holding a
// connection. Start it with ListenAndServe or Serve; stop it with Shutdown.
func NewServer(addr string, g prometheus.Gatherer) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(g))
	return &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second, // above Handler's 10s
		IdleTimeout:       60 * time.Second,
	}
}
