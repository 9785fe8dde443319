package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/metrics"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/webhook"
)

func TestMain(m *testing.M) { redistest.Main(m) }

type bundle struct {
	reg *prometheus.Registry
	m   *metrics.Metrics
}

func setup(t *testing.T) *bundle {
	t.Helper()
	reg := prometheus.NewRegistry()
	return &bundle{reg: reg, m: metrics.New(reg)}
}

// compare checks the named metrics of the bundle's registry against the
// samples in want (text format, one per line, indentation ignored); the
// HELP and TYPE lines are taken from the registry.
func (b *bundle) compare(t *testing.T, want string, names ...string) {
	t.Helper()
	var exp strings.Builder
	for _, f := range gather(t, b.reg) {
		if !slices.Contains(names, f.GetName()) {
			continue
		}
		fmt.Fprintf(&exp, "# HELP %s %s\n# TYPE %s %s\n", f.GetName(), f.GetHelp(), f.GetName(), strings.ToLower(f.GetType().String()))
		for line := range strings.Lines(want) {
			if line = strings.TrimSpace(line); line != "" && familyOf(line) == f.GetName() {
				exp.WriteString(line + "\n")
			}
		}
	}
	if err := testutil.GatherAndCompare(b.reg, strings.NewReader(exp.String()), names...); err != nil {
		t.Fatal(err)
	}
}

// familyOf returns the metric family of a sample line.
func familyOf(sample string) string {
	name, _, _ := strings.Cut(sample, "{")
	name, _, _ = strings.Cut(name, " ")
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && !strings.HasSuffix(name, "_total") {
			return base
		}
	}
	return name
}

func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample returns the sample of the named metric with exactly labels, or
// fails the test.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	for _, f := range gather(t, g) {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m
		}
	}
	t.Fatalf("no sample %s%v", name, labels)
	return nil
}

func TestNilMetricsIsANoOp(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.Verification("idcard", "match", false)
	m.ProviderCall(tencentv2.Name, tencentv2.ActionIDCardAuth, time.Second, nil, errors.New("boom"))
	m.RateLimitWait("signup", time.Second)
	m.WebhookDelivery(metrics.WebhookDelivered)
	m.CacheLookup(true)
	m.SetBudget(1, 2)
}

func TestNewWithoutRegistry(t *testing.T) {
	t.Parallel()
	m := metrics.New(nil)
	m.Verification("idcard", "match", false)
	m.CacheLookup(true)
}

func TestNewRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	defer func() {
		if recover() == nil {
			t.Fatal("a second New on one registry did not panic")
		}
	}()
	metrics.New(reg)
}

func TestVerification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.m.Verification("idcard", "match", false)
	b.m.Verification("idcard", "match", false)
	b.m.Verification("bankcard4", "error", false)
	b.m.Verification("mobile3", "mismatch", true)
	b.m.Verification("bankcard3", "cancelled", false)
	// Outside the fixed sets: never the value itself.
	b.m.Verification("110101199003074518", "13800138000", false)
	b.m.Verification("", "match", false)

	// Every kind × result class × cached series exists from the start.
	if n := testutil.CollectAndCount(b.reg, "realname_verifications_total"); n != 4*9*2+2 {
		t.Fatalf("%d verification series, want %d", n, 4*9*2+2)
	}
	for _, c := range []struct {
		kind, class, cached string
		want                float64
	}{
		{"idcard", "match", "false", 2},
		{"idcard", "match", "true", 0},
		{"bankcard4", "error", "false", 1},
		{"mobile3", "mismatch", "true", 1},
		{"bankcard3", "cancelled", "false", 1},
		{"other", "other", "false", 1},
		{"other", "match", "false", 1},
	} {
		got := sample(t, b.reg, "realname_verifications_total", map[string]string{"kind": c.kind, "class": c.class, "cached": c.cached}).GetCounter().GetValue()
		if got != c.want {
			t.Errorf("verifications{kind=%s,class=%s,cached=%s} = %v, want %v", c.kind, c.class, c.cached, got, c.want)
		}
	}
}

func TestProviderCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.m.ProviderCall(tencentv2.Name, tencentv2.ActionIDCardAuth, 40*time.Millisecond, &provider.Answer{Class: provider.ClassMatch}, nil)
	b.m.ProviderCall(tencentv2.Name, tencentv2.ActionIDCardAuth, 3*time.Second, nil,
		&provider.Error{Class: provider.ClassTransient, Err: &tencentv2.APIError{Action: tencentv2.ActionIDCardAuth, Code: 5100, Class: provider.ClassTransient}})
	b.m.ProviderCall(tencentv2.Name, tencentv2.ActionMobileAuth3, 200*time.Millisecond, nil,
		&provider.Error{Class: provider.ClassTransient, Err: &tencentv2.TransportError{Action: tencentv2.ActionMobileAuth3, StatusCode: 503, Class: provider.ClassTransient}})
	b.m.ProviderCall(tencentv2.Name, "Bsp13800138000", 20*time.Second, nil, &provider.Error{Class: provider.ClassCredentials, Err: &tencentv2.APIError{Code: 4100, Class: provider.ClassCredentials}})
	b.compare(t, `
		realname_provider_errors_total{action="BspIdCardAuth",code="5100",provider="tencent-v2"} 1
		realname_provider_errors_total{action="BspMobileAuth3",code="http_503",provider="tencent-v2"} 1
		realname_provider_errors_total{action="other",code="4100",provider="tencent-v2"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="0.01"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="0.025"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="0.05"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="0.1"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="0.25"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="0.5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="1"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="2.5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="10"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="match",provider="tencent-v2",le="+Inf"} 1
		realname_provider_request_duration_seconds_sum{action="BspIdCardAuth",outcome="match",provider="tencent-v2"} 0.04
		realname_provider_request_duration_seconds_count{action="BspIdCardAuth",outcome="match",provider="tencent-v2"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="0.01"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="0.025"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="0.05"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="0.1"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="0.25"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="0.5"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="1"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="2.5"} 0
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="10"} 1
		realname_provider_request_duration_seconds_bucket{action="BspIdCardAuth",outcome="transient",provider="tencent-v2",le="+Inf"} 1
		realname_provider_request_duration_seconds_sum{action="BspIdCardAuth",outcome="transient",provider="tencent-v2"} 3
		realname_provider_request_duration_seconds_count{action="BspIdCardAuth",outcome="transient",provider="tencent-v2"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="0.01"} 0
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="0.025"} 0
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="0.05"} 0
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="0.1"} 0
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="0.25"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="0.5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="1"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="2.5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="5"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="10"} 1
		realname_provider_request_duration_seconds_bucket{action="BspMobileAuth3",outcome="transient",provider="tencent-v2",le="+Inf"} 1
		realname_provider_request_duration_seconds_sum{action="BspMobileAuth3",outcome="transient",provider="tencent-v2"} 0.2
		realname_provider_request_duration_seconds_count{action="BspMobileAuth3",outcome="transient",provider="tencent-v2"} 1
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="0.01"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="0.025"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="0.05"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="0.1"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="0.25"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="0.5"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="1"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="2.5"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="5"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="10"} 0
		realname_provider_request_duration_seconds_bucket{action="other",outcome="credentials",provider="tencent-v2",le="+Inf"} 1
		realname_provider_request_duration_seconds_sum{action="other",outcome="credentials",provider="tencent-v2"} 20
		realname_provider_request_duration_seconds_count{action="other",outcome="credentials",provider="tencent-v2"} 1
	`, "realname_provider_errors_total", "realname_provider_request_duration_seconds")
}

// timeoutErr is a net.Error that timed out, as a dial or read deadline
// gives.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestProviderErrorCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"known gateway code", &tencentv2.APIError{Code: 4100, Class: provider.ClassCredentials}, "4100"},
		{"transient gateway code", &tencentv2.APIError{Code: 5100, Class: provider.ClassTransient}, "5100"},
		{"wrapped gateway code", fmt.Errorf("call: %w", &tencentv2.APIError{Code: 4400}), "4400"},
		{"unknown gateway code", &tencentv2.APIError{Code: 13800138, Class: provider.ClassUnknown}, "other"},
		{"unknown auth code", &tencentv2.APIError{AuthCode: "77", Class: provider.ClassUnknown}, "unknown_auth_code"},
		{"HTTP 503", &tencentv2.TransportError{StatusCode: 503, Class: provider.ClassTransient}, "http_503"},
		{"HTTP 429", &tencentv2.TransportError{StatusCode: 429, Class: provider.ClassThrottled}, "http_429"},
		{"odd HTTP status", &tencentv2.TransportError{StatusCode: 418, Class: provider.ClassUnknown}, "other"},
		{"client deadline", &tencentv2.TransportError{PossiblyBilled: true, Err: fmt.Errorf("post: %w", context.DeadlineExceeded)}, "timeout"},
		{"net timeout", &tencentv2.TransportError{Err: timeoutErr{}}, "timeout"},
		{"connection reset", &tencentv2.TransportError{Err: io.ErrUnexpectedEOF}, "transport"},
		{"body read failed", &tencentv2.TransportError{StatusCode: 502, Err: io.ErrUnexpectedEOF}, "transport"},
		{"not a v2 answer", &tencentv2.TransportError{StatusCode: 200, Err: errors.New("answer is not a v2 JSON body")}, "bad_answer"},
		{"cancelled", context.Canceled, "canceled"},
		{"bare deadline", context.DeadlineExceeded, "timeout"},
		{"anything else", errors.New("13800138000"), "other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := metrics.ProviderErrorCode(c.err); got != c.want {
				t.Fatalf("ProviderErrorCode(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

func TestRateLimitWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.m.RateLimitWait("signup", 0)
	b.m.RateLimitWait("bulk", 2*time.Second)
	b.m.RateLimitWait("bulk", 45*time.Second)
	b.m.RateLimitWait("110101199003074518", time.Millisecond)
	if n := testutil.CollectAndCount(b.reg, "realname_ratelimit_wait_seconds"); n != 3 {
		t.Fatalf("%d wait series, want signup, bulk and other", n)
	}
	for q, want := range map[string]uint64{"signup": 1, "bulk": 2, "other": 1} {
		h := sample(t, b.reg, "realname_ratelimit_wait_seconds", map[string]string{"queue": q}).GetHistogram()
		if h.GetSampleCount() != want {
			t.Errorf("queue %s: %d waits, want %d", q, h.GetSampleCount(), want)
		}
	}
	h := sample(t, b.reg, "realname_ratelimit_wait_seconds", map[string]string{"queue": "bulk"}).GetHistogram()
	if h.GetSampleSum() != 47 {
		t.Fatalf("bulk waits sum to %v, want 47", h.GetSampleSum())
	}
}

func TestWebhookOutcomeOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want metrics.WebhookOutcome
	}{
		{"2xx", nil, metrics.WebhookDelivered},
		{"410", &webhook.DeliveryError{StatusCode: http.StatusGone}, metrics.WebhookGone},
		{"wrapped 410", fmt.Errorf("deliver: %w", &webhook.DeliveryError{StatusCode: http.StatusGone}), metrics.WebhookGone},
		{"bad URL", &webhook.DeliveryError{Err: fmt.Errorf("%w: endpoint does not parse", webhook.ErrInvalidRequest)}, metrics.WebhookInvalid},
		{"503", &webhook.DeliveryError{StatusCode: http.StatusServiceUnavailable}, metrics.WebhookFailed},
		{"no answer", &webhook.DeliveryError{Err: io.EOF}, metrics.WebhookFailed},
		{"other error", errors.New("boom"), metrics.WebhookFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := metrics.WebhookOutcomeOf(c.err); got != c.want {
				t.Fatalf("WebhookOutcomeOf(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.m.WebhookDelivery(metrics.WebhookDelivered)
	b.m.WebhookDelivery(metrics.WebhookDelivered)
	b.m.WebhookDelivery(metrics.WebhookFailed)
	b.m.WebhookDelivery(metrics.WebhookGone)
	b.m.WebhookDelivery("13800138000") // outside the set: counted as failed
	b.compare(t, `
		realname_webhook_deliveries_total{outcome="delivered"} 2
		realname_webhook_deliveries_total{outcome="failed"} 2
		realname_webhook_deliveries_total{outcome="gone"} 1
		realname_webhook_deliveries_total{outcome="invalid"} 0
	`, "realname_webhook_deliveries_total")
}

func TestCacheLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.m.CacheLookup(true)
	b.m.CacheLookup(false)
	b.m.CacheLookup(false)
	b.compare(t, `
		realname_cache_lookups_total{result="hit"} 1
		realname_cache_lookups_total{result="miss"} 2
	`, "realname_cache_lookups_total")
}

func TestSetBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	check := func(name string, wantLeft, wantUsed float64) {
		t.Helper()
		left := sample(t, b.reg, "realname_budget_left", nil).GetGauge().GetValue()
		used := sample(t, b.reg, "realname_budget_used", nil).GetGauge().GetValue()
		if left != wantLeft || used != wantUsed {
			t.Errorf("%s: budget_left %v, budget_used %v; want %v, %v", name, left, used, wantLeft, wantUsed)
		}
	}
	check("before any report", -1, 0)
	for _, c := range []struct {
		name        string
		used        int64
		daily       int
		left, usedG float64
	}{
		{"within", 30, 100, 70, 30},
		{"spent", 100, 100, 0, 100},
		{"over (signups let through)", 130, 100, 0, 130},
		{"no budget", 12, 0, -1, 12},
	} {
		b.m.SetBudget(c.used, c.daily)
		check(c.name, c.left, c.usedG)
	}
}

func TestQueueCollector(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	rdb := db.Client(t)
	client := asynq.NewClientFromRedisClient(rdb)
	in := asynq.NewInspectorFromRedisClient(rdb)
	for i := range 3 {
		if _, err := client.Enqueue(asynq.NewTask("verify:idcard", nil), asynq.Queue("signup"), asynq.TaskID(fmt.Sprint("p", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Enqueue(asynq.NewTask("verify:idcard", nil), asynq.Queue("bulk"), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := in.PauseQueue("bulk"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the oldest pending task ages

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(in))
	want := strings.Join([]string{
		"# HELP realname_queue_paused 1 when the queue is paused, else 0.",
		"# TYPE realname_queue_paused gauge",
		`realname_queue_paused{queue="bulk"} 1`,
		`realname_queue_paused{queue="signup"} 0`,
		"# HELP realname_queue_size Tasks in the queue by state.",
		"# TYPE realname_queue_size gauge",
	}, "\n") + "\n"
	for _, q := range []struct {
		queue            string
		pending, planned int
	}{{"bulk", 0, 1}, {"signup", 3, 0}} {
		for _, s := range []struct {
			state string
			n     int
		}{{"active", 0}, {"aggregating", 0}, {"archived", 0}, {"completed", 0}, {"pending", q.pending}, {"retry", 0}, {"scheduled", q.planned}} {
			want += fmt.Sprintf("realname_queue_size{queue=%q,state=%q} %d\n", q.queue, s.state, s.n)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "realname_queue_paused", "realname_queue_size"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(metrics.NewQueueCollector(in)); n != 2*(7+1+1) {
		t.Fatalf("%d queue series, want 9 for each of 2 queues", n)
	}
	for _, f := range gather(t, reg) {
		if f.GetName() != "realname_queue_latency_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			q, v := m.GetLabel()[0].GetValue(), m.GetGauge().GetValue()
			if (q == "signup") != (v > 0) {
				t.Errorf("queue %s latency %vs: want > 0 only for signup, which has pending tasks", q, v)
			}
		}
	}
}

func TestQueueCollectorSkipsErrors(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every Inspector call fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	if n := testutil.CollectAndCount(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb))); n != 0 {
		t.Fatalf("%d series from an unreachable Redis, want none", n)
	}
	if n := testutil.CollectAndCount(metrics.NewQueueCollector(nil)); n != 0 {
		t.Fatalf("%d series from a nil Inspector, want none", n)
	}
}

// Label values that look like an ID number (18 characters, the last a digit
// or X) or a mobile number (11 digits).
var (
	idNumberPattern = regexp.MustCompile(`[0-9]{17}[0-9Xx]`)
	phonePattern    = regexp.MustCompile(`1[0-9]{10}`)
)

// TestNoPersonalDataInLabels feeds personal data wherever a caller could
// pass a string, scrapes the whole registry and finds none of it.
func TestNoPersonalDataInLabels(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	rdb := db.Client(t)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	reg.MustRegister(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb)))
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("verify:idcard", []byte(`{"idNumber":"110101199003074518"}`)),
		asynq.Queue("signup"), asynq.TaskID("job-13800138000")); err != nil {
		t.Fatal(err)
	}
	const id, phone, name = "110101199003074518", "13800138000", "张三"
	for _, s := range []string{id, phone, name, "11010119900307451X", "ORD-" + phone} {
		m.Verification(s, s, false)
		m.ProviderCall(s, s, time.Second, &provider.Answer{Class: provider.Class(s), Code: s}, nil)
		m.ProviderCall(s, s, time.Second, nil, &provider.Error{Code: "4000", Class: provider.Class(s),
			Err: &tencentv2.APIError{Code: 4000, AuthCode: s, Message: s, Class: provider.Class(s)}})
		m.ProviderCall(s, s, time.Second, nil, &tencentv2.APIError{AuthCode: s, Message: s})
		m.ProviderCall(s, s, time.Second, nil, &provider.Error{Code: s, Message: s, Class: provider.Class(s)})
		m.ProviderCall(s, s, time.Second, nil, &provider.Error{Code: "http " + s, Message: s})
		m.ProviderCall(s, s, time.Second, nil, errors.New(s))
		m.RateLimitWait(s, time.Second)
		m.WebhookDelivery(metrics.WebhookOutcome(s))
	}

	srv := httptestServer(t, reg)
	resp, err := http.Get(srv + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	if !strings.Contains(text, `realname_queue_size{queue="signup",state="pending"} 1`) {
		t.Fatalf("the scrape misses the queue collector:\n%s", text)
	}
	for _, s := range []string{id, phone, name} {
		if strings.Contains(text, s) {
			t.Fatalf("personal data %q in the scrape", s)
		}
	}
	labels := 0
	for _, f := range gather(t, reg) {
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				labels++
				if v := l.GetValue(); idNumberPattern.MatchString(v) || phonePattern.MatchString(v) {
					t.Errorf("%s{%s=%q}: a label value looks like an ID or phone number", f.GetName(), l.GetName(), v)
				}
			}
		}
	}
	if labels < 100 {
		t.Fatalf("only %d label values checked: the check would prove little", labels)
	}
}

func TestServer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics.New(reg).SetBudget(3, 10)
	base := httptestServer(t, reg)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "realname_budget_left 7\n") {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("Content-Type %q, want the text format", resp.Header.Get("Content-Type"))
	}
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /: %s, want 404", resp.Status)
	}
}

// httptestServer runs NewServer on a loopback port until the test ends and
// returns its base URL.
func httptestServer(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := metrics.NewServer(ln.Addr().String(), g)
	if srv.ReadHeaderTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Fatalf("server without timeouts: %+v", srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestRedisHook: every round trip and command through the hook is
// counted, a pipeline as one round trip of several commands. (The hook is
// called directly: a real client also sends its connections' set-up
// through it, whenever go-redis opens one.)
func TestRedisHook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	h := b.m.RedisHook()
	single := h.ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	pipeline := h.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return nil })
	for range 2 {
		if err := single(ctx, redis.NewStatusCmd(ctx, "set", "k", "v")); err != nil {
			t.Fatal(err)
		}
	}
	cmds := []redis.Cmder{redis.NewStringCmd(ctx, "get", "k"), redis.NewIntCmd(ctx, "incr", "n"), redis.NewIntCmd(ctx, "incr", "n")}
	if err := pipeline(ctx, cmds); err != nil {
		t.Fatal(err)
	}
	b.compare(t, `
		realname_redis_round_trips_total{kind="command"} 2
		realname_redis_round_trips_total{kind="pipeline"} 1
		realname_redis_commands_total 5
	`, "realname_redis_round_trips_total", "realname_redis_commands_total")
	// A nil *Metrics counts nothing and does not panic.
	var m *metrics.Metrics
	if err := m.RedisHook().ProcessHook(func(context.Context, redis.Cmder) error { return nil })(ctx, redis.NewCmd(ctx, "ping")); err != nil {
		t.Fatal(err)
	}
}
