// Package producer is the Go API that backends import to enqueue identity
// verifications from their signup flow. Requests are validated locally, so
// bad input never costs a paid provider call, and enqueueing is idempotent by
// the caller's order number.
package producer
