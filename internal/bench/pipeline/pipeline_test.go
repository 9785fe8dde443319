package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestCommandStats(t *testing.T) {
	t.Parallel()
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hset:calls=7,usec=10,usec_per_call=1.43,rejected_calls=0,failed_calls=1\r\n" +
		"cmdstat_info:calls=1,usec=50,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n"
	got := commandStats(info)
	want := map[string]int64{"evalsha": 12, "hset": 7, "info": 1}
	if len(got) != len(want) {
		t.Fatalf("commandStats = %v, want %v", got, want)
	}
	for cmd, n := range want {
		if got[cmd] != n {
			t.Errorf("calls of %s = %d, want %d", cmd, got[cmd], n)
		}
	}

	d := diffCommands(map[string]int64{"evalsha": 2, "hset": 7}, map[string]int64{"evalsha": 12, "eval": 3, "hset": 9, "info": 1})
	if d.total != 16 || d.scripts != 13 || d.byCmd["hset"] != 2 {
		t.Errorf("diffCommands = %+v, want total 16, scripts 13, hset 2", d)
	}
}

func TestPromText(t *testing.T) {
	t.Parallel()
	text := `# HELP realname_redis_round_trips_total Round trips.
# TYPE realname_redis_round_trips_total counter
realname_redis_round_trips_total{kind="command"} 120
realname_redis_round_trips_total{kind="pipeline"} 30
realname_redis_round_trips_totally_else 999
realname_redis_commands_total 200
realname_ratelimit_wait_seconds_count{queue="bulk"} 500
realname_ratelimit_wait_seconds_count{queue="signup"} 25
`
	m, err := promText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"realname_redis_round_trips_total", nil, 150},
		{"realname_redis_round_trips_total", []string{`kind="pipeline"`}, 30},
		{"realname_redis_commands_total", nil, 200},
		{"realname_ratelimit_wait_seconds_count", []string{`queue="signup"`}, 25},
		{"realname_missing", nil, 0},
	}
	for _, c := range cases {
		if got := sumSeries(m, c.name, c.labels...); got != c.want {
			t.Errorf("sumSeries(%s, %v) = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// meter returns readings every 250ms of a run that calls rate a second
// from first to last (seconds), then stops.
func meter(rate, first, last, until float64) []meterSample {
	t0 := time.Unix(1_700_000_000, 0)
	var out []meterSample
	for s := 0.0; s <= until; s += 0.25 {
		n := int64(rate * (min(s, last) - first))
		n = max(n, 0)
		out = append(out, meterSample{at: t0.Add(time.Duration(s * float64(time.Second))), calls: n, billed: n})
	}
	return out
}

func TestSteadyRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		samples []meterSample
		want    float64
		ok      bool
	}{
		{"steady", meter(200, 0.5, 10.5, 12), 200, true},
		{"too short", meter(200, 0.5, 2.3, 4), 0, false},
		{"no calls", meter(0, 0, 0, 3), 0, false},
		{"one reading", meter(200, 0, 1, 0), 0, false},
	}
	for _, c := range cases {
		got, ok := steadyRate(c.samples, time.Second)
		if ok != c.ok || math.Abs(got-c.want) > 2 {
			t.Errorf("%s: steadyRate = %.1f, %v; want %.1f, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 50; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{
		{50, 25 * time.Millisecond},
		{99, 50 * time.Millisecond},
		{100, 50 * time.Millisecond},
		{0, time.Millisecond},
	}
	for _, c := range cases {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("percentile(1..50ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}

// TestParseEnqueueOutput holds the enqueue harness's result lines as it
// prints them: a change there must change the parser too.
func TestParseEnqueueOutput(t *testing.T) {
	t.Parallel()
	out := "building realname and writing 100000 rows...\n\n" +
		"bulk enqueue of 100000 rows (CSV parsing and validation included), private redis-server 127.0.0.1:43247\n" +
		"  asynq Client.Enqueue one by one (baseline)         9868 tasks/s\n" +
		"  realname enqueue (concurrency 4, chunks 512)      67378 rows/s      1.5s   peak RSS 31 MB   6.8x baseline\n"
	r, err := parseEnqueueOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	want := enqueueResult{oneByOne: 9868, rate: 67378, elapsed: 1500 * time.Millisecond, rssMB: 31, concurrency: 4, chunks: 512}
	if r != want {
		t.Errorf("parseEnqueueOutput = %+v, want %+v", r, want)
	}
	if _, err := parseEnqueueOutput("bench: redis-server not found"); err == nil {
		t.Error("parseEnqueueOutput of an error: no error")
	}
}

func TestSVGPlotIsWellFormed(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	svgPlot(&buf, "calls <&> quota", 200, []series{
		{label: "1 worker", pts: []point{{-0.1, 5}, {0.125, 180}, {0.375, 199}}},
		{label: "3 workers", pts: []point{{0.125, 150}, {0.375, 201}}},
		{label: "empty"},
	})
	dec := xml.NewDecoder(&buf)
	polylines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 3 {
		t.Errorf("%d polylines, want 3", polylines)
	}
}

func TestNiceStep(t *testing.T) {
	t.Parallel()
	cases := []struct{ span, want float64 }{
		{3, 0.5}, {10, 2}, {30, 5}, {220, 50}, {0, 1},
	}
	for _, c := range cases {
		if got := niceStep(c.span); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", c.span, got, c.want)
		}
	}
}
