// Package task holds what the producer and the worker share: the task type
// names, the queues, the payloads, and their one encoder and decoder.
//
// Personal data lives in exactly two places, the task payload and the
// provider request, and this package is where the payload is encoded. It is
// the single place where encryption at rest will plug in: nothing else reads
// or writes payload bytes.
package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/provider"
)

// Kind is a kind of verification: which facts are checked together. It is
// provider.Kind, named here too because producer and worker both speak of
// kinds through this package.
type Kind = provider.Kind

// The four kinds; every provider has one action for each.
const (
	// KindIDCard checks name + ID number.
	KindIDCard = provider.KindIDCard
	// KindMobile3 checks name + ID number + mobile.
	KindMobile3 = provider.KindMobile3
	// KindBankCard3 checks name + ID number + bank card.
	KindBankCard3 = provider.KindBankCard3
	// KindBankCard4 checks name + ID number + bank card + the card's
	// reserved mobile.
	KindBankCard4 = provider.KindBankCard4
)

// Kinds lists every kind, in a stable order.
var Kinds = provider.Kinds

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", &identity.FieldError{Field: "kind", Reason: "must be one of idcard, mobile3, bankcard3, bankcard4"}
}

// TaskType returns the asynq task type that verifies k, e.g. "verify:idcard".
func TaskType(k Kind) string { return "verify:" + string(k) }

// Task types.
const (
	TypeVerifyIDCard    = "verify:idcard"
	TypeVerifyMobile3   = "verify:mobile3"
	TypeVerifyBankCard3 = "verify:bankcard3"
	TypeVerifyBankCard4 = "verify:bankcard4"
	// TypeWebhook delivers one webhook event to one endpoint.
	TypeWebhook = "webhook:deliver"
)

// Queues. Signup verifications go to a queue the workers serve before the
// bulk one; webhooks have their own, so a failing receiver never holds up or
// re-runs a paid verification.
const (
	QueueSignup  = "signup"
	QueueBulk    = "bulk"
	QueueWebhook = "webhooks"
)

// VerifyQueues are the queues that hold paid verifications: the ones paused
// when the provider refuses our credentials.
var VerifyQueues = []string{QueueSignup, QueueBulk}

// JobID returns the asynq task ID of the verification of orderNo. Deriving
// it from the order number makes a second enqueue of the same order collide
// with the first instead of paying twice.
func JobID(orderNo identity.OrderNo) string { return "vrf:" + string(orderNo) }

// WebhookID returns the task ID, and the webhook-id header, of the
// completion event of a job: one per job, so a re-run cannot send a second.
func WebhookID(jobID string) string { return "wh:" + jobID }

// OrderNoOf returns the order number a job ID was derived from.
func OrderNoOf(jobID string) (identity.OrderNo, bool) {
	o, ok := strings.CutPrefix(jobID, "vrf:")
	return identity.OrderNo(o), ok
}

// Verification is the payload of a verification task.
type Verification struct {
	Kind     Kind
	OrderNo  identity.OrderNo
	Name     identity.Name
	IDNumber identity.IDNumber
	// Phone is set for KindMobile3 and KindBankCard4.
	Phone identity.Phone
	// BankCard is set for KindBankCard3 and KindBankCard4.
	BankCard identity.BankCard
	// CallbackURL receives the result's webhook; empty means the workers'
	// default endpoint, if any.
	CallbackURL string
	// Batch names the bulk batch the job belongs to; empty for signup jobs.
	Batch string
	// BatchSeq numbers the job within its batch, so that the batch counts
	// it once whatever its retries.
	BatchSeq int64
	// EnqueuedAt is when the producer accepted the job; the per-job deadline
	// counts from it.
	EnqueuedAt time.Time
}

// Validate checks that v has the fields its kind needs. Values of the
// identity types were validated when they were parsed.
func (v Verification) Validate() error {
	if _, err := ParseKind(string(v.Kind)); err != nil {
		return err
	}
	missing := func(field string) error { return &identity.FieldError{Field: field, Reason: "is required"} }
	switch {
	case v.OrderNo == "":
		return missing(identity.FieldOrderNo)
	case v.Name == "":
		return missing(identity.FieldName)
	case v.IDNumber == "":
		return missing(identity.FieldIDNumber)
	case (v.Kind == KindMobile3 || v.Kind == KindBankCard4) && v.Phone == "":
		return missing(identity.FieldPhone)
	case (v.Kind == KindBankCard3 || v.Kind == KindBankCard4) && v.BankCard == "":
		return missing(identity.FieldBankCard)
	}
	return nil
}

// Request returns the provider request that runs v.
func (v Verification) Request() provider.Request {
	return provider.Request{Kind: v.Kind, OrderNo: v.OrderNo, Name: v.Name, IDNumber: v.IDNumber, Phone: v.Phone, BankCard: v.BankCard}
}

// wireVerification is the payload as stored in Redis. Its fields are plain
// strings holding raw personal data: it must never be logged or returned.
type wireVerification struct {
	V           int    `json:"v"`
	Kind        Kind   `json:"kind"`
	OrderNo     string `json:"orderNo"`
	Name        string `json:"name"`
	IDNumber    string `json:"idNumber"`
	Phone       string `json:"phoneNumber,omitempty"`
	BankCard    string `json:"bankCardNumber,omitempty"`
	CallbackURL string `json:"callbackUrl,omitempty"`
	Batch       string `json:"batch,omitempty"`
	BatchSeq    int64  `json:"batchSeq,omitempty"`
	EnqueuedAt  int64  `json:"enqueuedAt"`
}

// payloadVersion is bumped when the wire form changes; encryption at rest
// will be version 2.
const payloadVersion = 1

// ErrPayload is matched by every error of DecodeVerification.
var ErrPayload = errors.New("task: bad payload")

// EncodeVerification returns the payload bytes of v.
func EncodeVerification(v Verification) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(wireVerification{
		V:           payloadVersion,
		Kind:        v.Kind,
		OrderNo:     string(v.OrderNo),
		Name:        v.Name.Reveal(),
		IDNumber:    v.IDNumber.Reveal(),
		Phone:       v.Phone.Reveal(),
		BankCard:    v.BankCard.Reveal(),
		CallbackURL: v.CallbackURL,
		Batch:       v.Batch,
		BatchSeq:    v.BatchSeq,
		EnqueuedAt:  v.EnqueuedAt.UnixMilli(),
	})
}

// DecodeVerification parses payload bytes and validates every field again:
// what comes out of Redis is outside input too. Errors never quote the
// payload.
func DecodeVerification(b []byte) (Verification, error) {
	var w wireVerification
	if err := json.Unmarshal(b, &w); err != nil {
		return Verification{}, fmt.Errorf("%w: not JSON of the expected shape", ErrPayload)
	}
	if w.V != payloadVersion {
		return Verification{}, fmt.Errorf("%w: version %d, want %d", ErrPayload, w.V, payloadVersion)
	}
	v := Verification{Kind: w.Kind, CallbackURL: w.CallbackURL, Batch: w.Batch, BatchSeq: w.BatchSeq, EnqueuedAt: time.UnixMilli(w.EnqueuedAt)}
	var err error
	if v.OrderNo, err = identity.ParseOrderNo(w.OrderNo); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if v.Name, err = identity.ParseName(w.Name); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if v.IDNumber, err = identity.ParseIDNumber(w.IDNumber); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if w.Phone != "" {
		if v.Phone, err = identity.ParsePhone(w.Phone); err != nil {
			return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
		}
	}
	if w.BankCard != "" {
		if v.BankCard, err = identity.ParseBankCard(w.BankCard); err != nil {
			return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
		}
	}
	if err := v.Validate(); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	return v, nil
}

// NewVerifyTask returns the task that runs v, with its job ID as task ID.
// opts come after the defaults, so callers can override the queue and the
// retry policy.
func NewVerifyTask(v Verification, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := EncodeVerification(v)
	if err != nil {
		return nil, err
	}
	all := append([]asynq.Option{asynq.TaskID(JobID(v.OrderNo))}, opts...)
	return asynq.NewTask(TaskType(v.Kind), b, all...), nil
}

// Webhook is the payload of a webhook delivery task. It holds no personal
// data: the body is the event as the receiver gets it.
type Webhook struct {
	// ID is the webhook-id header, stable across retries.
	ID string `json:"id"`
	// URL is the endpoint.
	URL string `json:"url"`
	// Body is the JSON event.
	Body json.RawMessage `json:"body"`
	// Inline is true when the worker that enqueued the task made the first
	// delivery itself, which failed: the task's runs are the second attempt
	// and later (see worker's InlineWebhookTimeout).
	Inline bool `json:"inline,omitempty"`
}

// EncodeWebhook returns the payload bytes of w.
func EncodeWebhook(w Webhook) ([]byte, error) {
	if w.ID == "" || w.URL == "" || len(w.Body) == 0 {
		return nil, errors.New("task: webhook needs an id, a url and a body")
	}
	return json.Marshal(w)
}

// NewWebhookTask returns the task that delivers w, with w.ID as task ID.
func NewWebhookTask(w Webhook, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := EncodeWebhook(w)
	if err != nil {
		return nil, err
	}
	all := append([]asynq.Option{asynq.TaskID(w.ID), asynq.Queue(QueueWebhook)}, opts...)
	return asynq.NewTask(TypeWebhook, b, all...), nil
}

// DecodeWebhook parses a webhook task's payload.
func DecodeWebhook(b []byte) (Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(b, &w); err != nil || w.ID == "" || w.URL == "" {
		return Webhook{}, fmt.Errorf("%w: webhook payload", ErrPayload)
	}
	return w, nil
}
