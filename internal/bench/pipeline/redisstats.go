package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// commandStats parses INFO commandstats: calls by command, from lines like
// "cmdstat_evalsha:calls=12,usec=…". Since Redis 7 a command run by a
// script counts as a call too, so the total is every command Redis ran.
func commandStats(info string) map[string]int64 {
	calls := make(map[string]int64)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		cmd, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err == nil {
					calls[cmd] = n
				}
			}
		}
	}
	return calls
}

// readCommandStats returns the server's calls by command.
func (h *bench) readCommandStats(ctx context.Context) (map[string]int64, error) {
	info, err := h.RDB.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return commandStats(info), nil
}

// commandDelta is what Redis ran between two readings of commandstats.
type commandDelta struct {
	total   int64
	byCmd   map[string]int64
	scripts int64 // EVAL, EVALSHA and their read-only forms
}

func diffCommands(before, after map[string]int64) commandDelta {
	d := commandDelta{byCmd: make(map[string]int64)}
	for cmd, n := range after {
		if delta := n - before[cmd]; delta > 0 {
			d.byCmd[cmd] = delta
			d.total += delta
		}
	}
	for _, cmd := range []string{"eval", "evalsha", "eval_ro", "evalsha_ro"} {
		d.scripts += d.byCmd[cmd]
	}
	return d
}

// promText parses the Prometheus text format into value by series, the
// series written as in the text: name{label="v",…}.
func promText(r io.Reader) (map[string]float64, error) {
	out := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sumSeries adds up every series of the metric name whose labels contain
// each of labels (e.g. `queue="signup"`).
func sumSeries(m map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for series, v := range m {
		rest, ok := strings.CutPrefix(series, name)
		if !ok || (rest != "" && rest[0] != '{') {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(rest, l)
		}
		if match {
			sum += v
		}
	}
	return sum
}

// scrapeClient reads the workers' metrics.
var scrapeClient = &http.Client{Timeout: 10 * time.Second}

// scrape reads a worker's /metrics. The scrape itself reads the queues from
// Redis (the queue collector), a few round trips that the counters it
// returns may include.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	return promText(resp.Body)
}
