// Package worker runs the verification workers: asynq servers (a signup and
// webhooks pool, and a bulk pool) with one handler per kind of
// verification. A run locks its job, chooses the provider (failing over
// while a primary's circuit is open, never away from a provider that may
// have billed the job), waits for its slot of the provider action's shared
// limit, calls, classifies the answer, stores the result and schedules its
// webhook, which a signup's worker delivers at once.
package worker
