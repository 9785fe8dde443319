// Package worker runs the verification workers: an asynq server with one
// handler per kind of verification, rate-limited locally and across processes,
// that calls the provider, classifies every answer, stores the result and
// schedules its webhook.
package worker
