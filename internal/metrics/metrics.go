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
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/tencent"
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
	budgetLeft        prometheus.Gauge
	budgetUsed        prometheus.Gauge
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
			Help:    "Duration of provider calls (including the client's immediate re-signs of a replay answer), by action and the class of the outcome.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"action", "outcome"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "provider_errors_total",
			Help: "Provider calls without a definitive answer, by action and code: a gateway code (4100, 5100, …), http_NNN, timeout, transport, bad_answer, unknown_auth_code, canceled or other.",
		}, []string{"action", "code"}),
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
		budgetLeft: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "budget_left",
			Help: "Provider calls left in today's daily budget (CST); -1 when no budget is set.",
		}),
		budgetUsed: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "budget_used",
			Help: "Provider calls counted against today's daily budget (CST), by every worker sharing the Redis.",
		}),
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
	m.cacheLookups.WithLabelValues("hit")
	m.cacheLookups.WithLabelValues("miss")
	if reg != nil {
		reg.MustRegister(m.verifications, m.providerDuration, m.providerErrors, m.rateLimitWait,
			m.webhookDeliveries, m.cacheLookups, m.budgetLeft, m.budgetUsed)
	}
	return m
}

// Verification counts one stored final result of kind (task.Kind) with class
// (a definitive tencent class, store.ClassError or batch.ClassCancelled).
func (m *Metrics) Verification(kind, class string, cached bool) {
	if m == nil {
		return
	}
	m.verifications.WithLabelValues(kindLabel(kind), classLabel(class), strconv.FormatBool(cached)).Inc()
}

// ProviderCall records one call of the provider for action that took d and
// returned res and err: its duration by the class of its outcome and, when
// err is not nil, an error by ProviderErrorCode.
func (m *Metrics) ProviderCall(action string, d time.Duration, res *tencent.Result, err error) {
	if m == nil {
		return
	}
	action = actionLabel(action)
	outcome := tencent.ClassOf(err)
	if err == nil && res != nil {
		outcome = res.Class
	}
	m.providerDuration.WithLabelValues(action, outcomeLabel(outcome)).Observe(d.Seconds())
	if err != nil {
		m.providerErrors.WithLabelValues(action, ProviderErrorCode(err)).Inc()
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

// ProviderErrorCode returns the provider_errors_total code of an error
// returned by tencent.Client.Verify: the gateway code when the class table
// knows it, "http_NNN" for a common HTTP status without a gateway body,
// "timeout", "transport" (no answer), "bad_answer" (a 200 that is not a v2
// answer), "unknown_auth_code", "canceled", or "other".
func ProviderErrorCode(err error) string {
	var apiErr *tencent.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Code == 0 {
			return "unknown_auth_code"
		}
		if tencent.ClassifyGatewayCode(apiErr.Code) == tencent.ClassUnknown {
			return other
		}
		return strconv.Itoa(apiErr.Code)
	}
	var tErr *tencent.TransportError
	if errors.As(err, &tErr) && tErr.Err == nil && tErr.StatusCode != 0 {
		if !httpStatuses[tErr.StatusCode] {
			return other
		}
		return "http_" + strconv.Itoa(tErr.StatusCode)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case tErr != nil && tErr.StatusCode == http.StatusOK:
		return "bad_answer"
	case tErr != nil:
		return "transport"
	}
	return other
}

// httpStatuses are the HTTP statuses reported by their own code; any other
// is "other".
var httpStatuses = map[int]bool{
	400: true, 401: true, 403: true, 404: true, 405: true, 408: true, 429: true,
	500: true, 502: true, 503: true, 504: true,
}

// resultClasses are the classes a stored result can have.
var resultClasses = []string{
	string(tencent.ClassMatch), string(tencent.ClassMismatch), string(tencent.ClassInvalidCard),
	string(tencent.ClassCardUnusable), string(tencent.ClassBadRequest), store.ClassError, batch.ClassCancelled,
}

// outcomes are the classes of a provider call's outcome.
var outcomes = []tencent.Class{
	tencent.ClassMatch, tencent.ClassMismatch, tencent.ClassInvalidCard, tencent.ClassCardUnusable,
	tencent.ClassBadRequest, tencent.ClassCredentials, tencent.ClassReplay, tencent.ClassTransient,
	tencent.ClassThrottled, tencent.ClassUnknown,
}

var actions = []string{tencent.ActionIDCardAuth, tencent.ActionMobileAuth3, tencent.ActionBankCard3Auth, tencent.ActionBankCardAuth4}

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

func outcomeLabel(c tencent.Class) string {
	for _, o := range outcomes {
		if c == o {
			return string(c)
		}
	}
	return string(tencent.ClassUnknown)
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
