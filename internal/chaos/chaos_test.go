package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/webhook"
)

// TestChaosShort runs every scenario in the short mode, as `make
// chaos-short` does, and fails when an invariant does: CI's `make test`
// runs the fault injection this way. The harness runs under the race
// detector here, but its children are built without it.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("the short chaos run takes about a minute and a half")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := config{short: true, quota: 200, latency: "fixed:50ms", workers: 3}.withDefaults()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	start := time.Now()
	outs, err := run(ctx, cfg, &out)
	t.Logf("chaos -short in %s:\n%s", time.Since(start).Round(100*time.Millisecond), &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(scenarioNames) {
		t.Errorf("%d scenarios ran, want %d", len(outs), len(scenarioNames))
	}
	for _, o := range outs {
		for _, f := range o.failures {
			t.Errorf("%s: %s", o.name, f)
		}
	}
}

func TestMergeArrivals(t *testing.T) {
	t.Parallel()
	before := harness.Arrivals{Count: 2, Duplicates: 1, At: map[string]int64{"a": 10, "b": 20}, Again: map[string]int{"b": 1}}
	after := harness.Arrivals{Count: 2, Rejected: 3, At: map[string]int64{"b": 15, "c": 30}}
	m := mergeArrivals(before, after)
	if m.Count != 3 || m.Last != 30 || m.Rejected != 3 || m.Duplicates != 2 {
		t.Errorf("merged = %+v, want 3 ids, last 30, 3 rejected, 2 duplicates", m)
	}
	if m.At["b"] != 15 || m.Again["b"] != 2 || m.Again["a"] != 0 {
		t.Errorf("b first at %d, again %d; a again %d: want 15, 2, 0", m.At["b"], m.Again["b"], m.Again["a"])
	}
}

// TestRetrySchedule: the receiver scenario's schedule is one the workers
// take, and it outlasts twice the time away.
func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	for _, away := range []time.Duration{15 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		s, err := webhook.ParseSchedule(retrySchedule(away))
		if err != nil {
			t.Fatalf("away %s: %v", away, err)
		}
		var total, step time.Duration
		for _, d := range s {
			total += d
			step = max(step, d)
		}
		if total < 2*away || step > 30*time.Second || step < 2*time.Second {
			t.Errorf("away %s: schedule %v totals %s with steps up to %s", away, s, total, step)
		}
	}
}

func TestExpectedCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	people := filepath.Join(dir, "people.csv")
	fixture := filepath.Join(dir, "fixture.jsonl")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(people, "orderNo,name,idNumber\nS1-1,张三,11010519491231002X\nS1-2,李四,110101196512318157\n")
	write(fixture, `{"name":"张三","idNumber":"11010519491231002X","authCodes":{"BspIdCardAuth":"00"}}
{"name":"李四","idNumber":"110101196512318157","authCodes":{"BspIdCardAuth":"01"}}
`)
	got, err := expectedCodes(people, fixture)
	if err != nil {
		t.Fatal(err)
	}
	if got["S1-1"] != "00" || got["S1-2"] != "01" || len(got) != 2 {
		t.Errorf("expectedCodes = %v", got)
	}
	write(people, "orderNo,name,idNumber\nS1-3,王五,110101196512318157X\n")
	if _, err := expectedCodes(people, fixture); err == nil || !strings.Contains(err.Error(), "S1-3") {
		t.Errorf("an order outside the fixture: %v, want an error naming it", err)
	}
}

// TestCheck: each shared invariant fails with its numbers.
func TestCheck(t *testing.T) {
	t.Parallel()
	good := func() *outcome {
		o := &outcome{name: "x", jobs: 10, results: 10, events: 10, batchEvents: 1}
		o.stats.Calls, o.stats.Billed = 12, 12
		o.stats.OrderNoReused = 2
		return o
	}
	o := good()
	if o.check(2); len(o.failures) > 0 {
		t.Errorf("a good outcome failed: %v", o.failures)
	}
	cases := []struct {
		name  string
		spoil func(*outcome)
		want  string
	}{
		{"billed twice", func(o *outcome) { o.stats.OrderNoReused, o.stats.Billed = 3, 13 }, "billed twice: 3, allowed 2"},
		{"missing result", func(o *outcome) { o.results = 9 }, "9 with a result"},
		{"missing event", func(o *outcome) { o.events = 9 }, "9 distinct events"},
		{"no completion", func(o *outcome) { o.batchEvents = 0 }, "batch.completed once"},
		{"archived", func(o *outcome) { o.archived = 1 }, "1 tasks archived"},
		{"wrong answer", func(o *outcome) { o.wrong = 1 }, "1 results differ"},
		{"unbilled job", func(o *outcome) { o.stats.Billed = 11 }, "every job billed once"},
	}
	for _, c := range cases {
		o := good()
		c.spoil(o)
		o.check(2)
		if !strings.Contains(strings.Join(o.failures, "\n"), c.want) {
			t.Errorf("%s: failures %q, want one with %q", c.name, o.failures, c.want)
		}
	}
}
