// Package store keeps the final result of every verification job, so that a
// job is answered once, a re-run finds the answer instead of paying again,
// and callers can look results up by job ID or order number.
//
// The interface is deliberately small: the Redis implementation here is the
// default, and a PostgreSQL one will sit beside it and pass the same
// conformance suite (package storetest). Records hold personal data only in
// masked form.
package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned when no result is stored for the key asked for.
var ErrNotFound = errors.New("store: result not found")

// ClassError is the class of a job that ended without a definitive answer:
// retries or its deadline ran out, or the payload could not be read. The
// other classes are the definitive classes of package tencent.
const ClassError = "error"

// Result is the final answer to one verification job.
type Result struct {
	// JobID is the job's ID (derived from OrderNo).
	JobID string `json:"jobId"`
	// OrderNo is the caller's order number.
	OrderNo string `json:"orderNo"`
	// Kind is the kind of verification (idcard, mobile3, bankcard3,
	// bankcard4).
	Kind string `json:"kind"`
	// Batch is the bulk batch the job belongs to, if any.
	Batch string `json:"batch,omitempty"`
	// Class is a definitive class of package provider (match, mismatch,
	// invalid_card, card_unusable, no_record, identity_limit,
	// bad_request), error, or cancelled.
	Class string `json:"class"`
	// Provider names the provider that answered: "tencent-v2",
	// "tencent-v3" or "aliyun". For a job that ended without an answer, the
	// provider that may have billed its calls, if any.
	Provider string `json:"provider,omitempty"`
	// Action is the provider action that answered.
	Action string `json:"action,omitempty"`
	// Code is the provider's code when it is a number (a v2 gateway code
	// such as 4000 for a refusal), else 0.
	Code int `json:"code"`
	// AuthCode is the provider's own result code, next to Class: v2's
	// authCode ("00"), v3's Result ("-1"), Alibaba Cloud's BizCode with its
	// SubCode ("2/201"), or the code of a refusal ("InvalidParameterValue").
	AuthCode string `json:"authCode,omitempty"`
	// Message is the provider's message for the answer.
	Message string `json:"message,omitempty"`
	// Error says why a job of class error ended; never personal data.
	Error string `json:"error,omitempty"`
	// Attempts is how many provider calls the job made.
	Attempts int `json:"attempts"`
	// Cached is true when the answer came from the result cache: an
	// earlier verification of the same kind and identity, no provider call.
	Cached bool `json:"cached,omitempty"`
	// PossiblyBilled counts calls that were sent but got no answer, which the
	// provider may have billed.
	PossiblyBilled int `json:"possiblyBilled,omitempty"`
	// Identity is the verified identity, masked.
	Identity MaskedIdentity `json:"identity"`
	// EnqueuedAt is when the job was accepted.
	EnqueuedAt time.Time `json:"enqueuedAt"`
	// CompletedAt is when the result was stored.
	CompletedAt time.Time `json:"completedAt"`
}

// MaskedIdentity is the identity of a result as it may be shown: masked.
type MaskedIdentity struct {
	Name     string `json:"name,omitempty"`
	IDNumber string `json:"idNumber,omitempty"`
	Phone    string `json:"phoneNumber,omitempty"`
	BankCard string `json:"bankCardNumber,omitempty"`
}

// Store keeps final results. Implementations are safe for concurrent use.
type Store interface {
	// Save stores r unless a result for r.JobID is already stored, and
	// reports whether it stored r. The first final result wins: a result is
	// never overwritten, so a re-run cannot change an answer.
	Save(ctx context.Context, r *Result) (bool, error)
	// Get returns the result of a job, or ErrNotFound.
	Get(ctx context.Context, jobID string) (*Result, error)
	// GetByOrderNo returns the result for an order number, or ErrNotFound.
	GetByOrderNo(ctx context.Context, orderNo string) (*Result, error)
}

// PipelineStore is implemented by a store that keeps its results in Redis
// (*Redis): a caller using the same client can read or save a result in a
// round trip with other commands.
type PipelineStore interface {
	// Client returns the Redis client of the store.
	Client() redis.UniversalClient
	// QueueGet queues the read of a job's result on pipe, a pipeline of
	// Client; the function returned gives what Get would, after Exec.
	QueueGet(ctx context.Context, pipe redis.Pipeliner, jobID string) func() (*Result, error)
	// QueueSave queues Save of r on pipe, a pipeline of Client; the
	// function returned gives what Save would, after Exec.
	QueueSave(ctx context.Context, pipe redis.Pipeliner, r *Result) func() (bool, error)
}

// CSVColumns are the columns of a result exported as CSV.
var CSVColumns = []string{"orderNo", "jobId", "kind", "class", "provider", "action", "code", "authCode", "message", "error", "attempts", "possiblyBilled", "cached", "completedAt"}

// CSVRow returns the result as a CSV row of CSVColumns.
func (r *Result) CSVRow() []string {
	completed := ""
	if !r.CompletedAt.IsZero() {
		completed = r.CompletedAt.UTC().Format(time.RFC3339Nano)
	}
	return []string{r.OrderNo, r.JobID, r.Kind, r.Class, r.Provider, r.Action, strconv.Itoa(r.Code), r.AuthCode,
		r.Message, r.Error, strconv.Itoa(r.Attempts), strconv.Itoa(r.PossiblyBilled), strconv.FormatBool(r.Cached), completed}
}
