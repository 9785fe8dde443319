package worker_test

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/realname-io/realname/internal/demo"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/metrics"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// TestMetrics runs jobs through transient faults and timeouts, to a
// receiver that refuses every webhook once, and checks the metrics against
// what the store, the sandbox and the receiver saw; then that a scrape holds
// no personal data, order number or job ID.
func TestMetrics(t *testing.T) {
	t.Parallel()
	const n, budget = 24, 10_000
	b := setup(t, setupOpts{n: n,
		faults: sandbox.Faults{
			HTTP5xxRate: 0.15, CodeRate: 0.15, Codes: []int{5100},
			TimeoutRate: 0.15, TimeoutHold: 3 * time.Second,
		},
		receiver: webhook.ReceiverConfig{FailFirst: 1},
	})
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	reg.MustRegister(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(b.rdb)))
	// A short timeout, so that each held answer costs a second, not two.
	provider, err := b.stack.Client(tencentv2.Config{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := b.startWorker(t, b.config(t, func(c *worker.Config) {
		c.Metrics, c.Provider, c.DailyBudget = m, provider, budget
	}))
	b.enqueueAll(t, producer.Signup)
	b.waitWebhooks(t, 60*time.Second)
	stop() // every handler has returned: the counters are final
	b.checkTruth(t)
	stats := b.stack.Sandbox.Stats()
	get := func(name string, match map[string]string) float64 { return metricSum(t, reg, name, match) }

	// One result counted per job, by its kind and class.
	want := map[[2]string]float64{}
	for i, e := range b.stack.Entries {
		want[[2]string{demo.KindOf(i), string(demo.Truth(e, demo.KindOf(i)))}]++
	}
	for kc, w := range want {
		if got := get("realname_verifications_total", map[string]string{"kind": kc[0], "class": kc[1], "cached": "false"}); got != w {
			t.Errorf("verifications{kind=%s,class=%s}: %v, want %v", kc[0], kc[1], got, w)
		}
	}
	if got := get("realname_verifications_total", nil); got != n {
		t.Errorf("%v verifications counted for %d jobs", got, n)
	}

	// Every call timed; every call but the one answer per job an error,
	// by the code the sandbox answered with.
	if got := get("realname_provider_request_duration_seconds", nil); got != float64(stats.Calls) {
		t.Errorf("%v calls timed, the sandbox saw %d", got, stats.Calls)
	}
	errs := get("realname_provider_errors_total", nil)
	if errs != float64(stats.Calls-n) || errs == 0 {
		t.Errorf("%v provider errors counted; the sandbox saw %d calls for %d jobs", errs, stats.Calls, n)
	}
	if got := get("realname_provider_request_duration_seconds", map[string]string{"outcome": "transient"}); got != errs {
		t.Errorf("%v calls timed as transient, %v errors", got, errs)
	}
	http5xx := float64(stats.ByAnswer["http:500"] + stats.ByAnswer["http:502"] + stats.ByAnswer["http:503"])
	byCode := map[string]float64{}
	for _, code := range []string{"5100", "http_500", "http_502", "http_503", "timeout"} {
		byCode[code] = get("realname_provider_errors_total", map[string]string{"code": code})
	}
	// A slow answer may time out on a busy machine: "timeout" may exceed
	// the held answers, never the other way round.
	if byCode["5100"] == 0 || byCode["5100"] > float64(stats.ByAnswer["code:5100"]) ||
		byCode["timeout"] < float64(stats.ByAnswer["timeout"]) || byCode["timeout"] == 0 ||
		byCode["http_500"]+byCode["http_502"]+byCode["http_503"] > http5xx || http5xx == 0 ||
		byCode["5100"]+byCode["http_500"]+byCode["http_502"]+byCode["http_503"]+byCode["timeout"] != errs {
		t.Errorf("provider errors by code %v; the sandbox answered %v", byCode, stats.ByAnswer)
	}

	t.Logf("%d calls for %d jobs; errors by code %v", stats.Calls, n, byCode)

	// One token wait before every call; the budget counted every call.
	if got := get("realname_ratelimit_wait_seconds", map[string]string{"queue": task.QueueSignup}); got < float64(stats.Calls) {
		t.Errorf("%v rate-limit waits for %d calls", got, stats.Calls)
	}
	if used, left := get("realname_budget_used", nil), get("realname_budget_left", nil); used != float64(stats.Calls) || left != budget-used {
		t.Errorf("budget used %v, left %v; want %d used of %d", used, left, stats.Calls, budget)
	}

	// Each webhook refused once, then delivered once.
	rs := b.stack.Receiver.Stats()
	if got := get("realname_webhook_deliveries_total", map[string]string{"outcome": "delivered"}); got != n {
		t.Errorf("%v webhooks delivered, want %d", got, n)
	}
	if got := get("realname_webhook_deliveries_total", map[string]string{"outcome": "failed"}); got < float64(rs.Failed) || rs.Failed < n {
		t.Errorf("%v failed deliveries counted; the receiver refused %d", got, rs.Failed)
	}
	if got := get("realname_webhook_deliveries_total", map[string]string{"outcome": "gone"}) +
		get("realname_webhook_deliveries_total", map[string]string{"outcome": "invalid"}); got != 0 {
		t.Errorf("%v deliveries gone or invalid, want none", got)
	}

	checkScrape(t, b, reg)
}

// Label values that look like an ID number (18 characters, the last a digit
// or X) or a mobile number (11 digits).
var personalDataLabel = regexp.MustCompile(`[0-9]{17}[0-9Xx]|1[0-9]{10}`)

// checkScrape scrapes reg as Prometheus would and fails if the text holds an
// entry's personal data, order number or job ID, or a label value looks like
// an ID or a phone number.
func checkScrape(t *testing.T, b *bundle, reg *prometheus.Registry) {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	text := string(body)
	if !strings.Contains(text, "realname_verifications_total") || !strings.Contains(text, "realname_queue_size") {
		t.Fatalf("the scrape misses metrics; the check would prove nothing:\n%s", text)
	}
	for _, e := range b.stack.Entries {
		jobID := task.JobID(identity.OrderNo(e.OrderNo))
		for _, s := range []string{e.Name, e.IDNumber, strings.ToLower(e.IDNumber), e.Phone, e.BankCard, e.OrderNo, jobID} {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("the scrape holds personal data or an ID of %s", e.OrderNo)
			}
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if personalDataLabel.MatchString(l.GetValue()) {
					t.Errorf("%s{%s=%q}: looks like an ID or phone number", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// metricSum adds up the samples of the named metric whose labels include
// match: counter and gauge values, histogram sample counts.
func metricSum(t *testing.T, g prometheus.Gatherer, name string, match map[string]string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := match[l.GetName()]; ok && v != l.GetValue() {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
