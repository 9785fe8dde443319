package metrics

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector reports the asynq queues as they are at scrape time.
type queueCollector struct {
	in                   *asynq.Inspector
	size, latency, pause *prometheus.Desc
}

// NewQueueCollector returns a collector that asks in, at every scrape, about
// every queue: realname_queue_size{queue,state} for the states pending,
// active, scheduled, retry, archived, completed and aggregating;
// realname_queue_latency_seconds{queue}, the age of the oldest pending task;
// and realname_queue_paused{queue}, 1 when paused. The queues live in Redis,
// so every worker reports the same figures: aggregate them with max, not
// sum. A queue that cannot be read is left out of the scrape; nothing is
// logged.
func NewQueueCollector(in *asynq.Inspector) prometheus.Collector {
	return &queueCollector{
		in: in,
		size: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "size"),
			"Tasks in the queue by state.", []string{"queue", "state"}, nil),
		latency: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "latency_seconds"),
			"Age of the oldest pending task of the queue.", []string{"queue"}, nil),
		pause: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "paused"),
			"1 when the queue is paused, else 0.", []string{"queue"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.latency
	ch <- c.pause
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	if c.in == nil {
		return
	}
	names, err := c.in.Queues()
	if err != nil {
		return
	}
	for _, q := range names {
		info, err := c.in.GetQueueInfo(q)
		if err != nil {
			continue
		}
		for _, s := range []struct {
			state string
			n     int
		}{
			{"pending", info.Pending}, {"active", info.Active}, {"scheduled", info.Scheduled}, {"retry", info.Retry},
			{"archived", info.Archived}, {"completed", info.Completed}, {"aggregating", info.Aggregating},
		} {
			c.send(ch, c.size, float64(s.n), q, s.state)
		}
		c.send(ch, c.latency, info.Latency.Seconds(), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		c.send(ch, c.pause, paused, q)
	}
}

// send sends a gauge, or nothing when the labels are not valid (a queue
// name that is not UTF-8): a scrape must never panic.
func (c *queueCollector) send(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	if m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...); err == nil {
		ch <- m
	}
}
