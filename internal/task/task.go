// Package task holds what the producer and the worker share: the task type
// names, the queues, the payloads, and their one encoder and decoder.
//
// Personal data lives in exactly two places, the task payload and the
// provider request, and this package is where the payload is encoded: its
// personal data sealed under a key ring (Codec), so that it rests in Redis
// only as ciphertext. Nothing else reads or writes payload bytes.
package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/keyring"
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

// Payloads at rest. A verification's personal data (name, ID number,
// phone, card) is sealed under the Codec's key ring (AES-256-GCM, package
// keyring), bound to the job ID: a payload moved to another job does not
// open. Beside the ciphertext the payload keeps the masked forms, which is
// all the dashboard shows, and the order number, kind, batch and callback
// URL in clear: the worker's bookkeeping needs them, and order numbers are
// refused when they look like personal data.

// wireVerification is the payload as stored in Redis (version 2).
type wireVerification struct {
	V           int          `json:"v"`
	Kind        Kind         `json:"kind"`
	OrderNo     string       `json:"orderNo"`
	CallbackURL string       `json:"callbackUrl,omitempty"`
	Batch       string       `json:"batch,omitempty"`
	BatchSeq    int64        `json:"batchSeq,omitempty"`
	EnqueuedAt  int64        `json:"enqueuedAt"`
	Masked      maskedFields `json:"masked"`
	// Sealed is the keyring blob of sealedFields' JSON.
	Sealed []byte `json:"sealed"`
	// Version 1 payloads (before encryption) held the fields below in
	// clear; they are read, never written.
	Name     string `json:"name,omitempty"`
	IDNumber string `json:"idNumber,omitempty"`
	Phone    string `json:"phoneNumber,omitempty"`
	BankCard string `json:"bankCardNumber,omitempty"`
}

// maskedFields are the masked forms of the sealed fields.
type maskedFields struct {
	Name     string `json:"name"`
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phoneNumber,omitempty"`
	BankCard string `json:"bankCardNumber,omitempty"`
}

// sealedFields is the plaintext of a payload's blob: raw personal data,
// never logged or returned.
type sealedFields struct {
	Name     string `json:"n"`
	IDNumber string `json:"i"`
	Phone    string `json:"p,omitempty"`
	BankCard string `json:"b,omitempty"`
}

// payloadVersion is the version written; version 1 (clear text) is still
// read, so that tasks queued before encryption drain.
const payloadVersion = 2

// ErrPayload is matched by every error of Codec.Decode and DecodeMasked.
var ErrPayload = errors.New("task: bad payload")

// Codec writes and reads verification payloads, sealing their personal
// data under a key ring. It is safe for concurrent use.
type Codec struct{ keys *keyring.Keyring }

// NewCodec returns a Codec sealing under keys.
func NewCodec(keys *keyring.Keyring) (*Codec, error) {
	if keys == nil {
		return nil, errors.New("task: a key ring is required: personal data rests only as ciphertext")
	}
	return &Codec{keys: keys}, nil
}

// Keys returns the codec's key ring.
func (c *Codec) Keys() *keyring.Keyring { return c.keys }

// Encode returns the payload bytes of v, its personal data sealed for
// its job ID.
func (c *Codec) Encode(v Verification) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	pt, err := json.Marshal(sealedFields{Name: v.Name.Reveal(), IDNumber: v.IDNumber.Reveal(), Phone: v.Phone.Reveal(), BankCard: v.BankCard.Reveal()})
	if err != nil {
		return nil, err
	}
	m := maskedFields{Name: v.Name.Masked(), IDNumber: v.IDNumber.Masked()}
	if v.Phone != "" {
		m.Phone = v.Phone.Masked()
	}
	if v.BankCard != "" {
		m.BankCard = v.BankCard.Masked()
	}
	return json.Marshal(wireVerification{
		V: payloadVersion, Kind: v.Kind, OrderNo: string(v.OrderNo), CallbackURL: v.CallbackURL,
		Batch: v.Batch, BatchSeq: v.BatchSeq, EnqueuedAt: v.EnqueuedAt.UnixMilli(),
		Masked: m, Sealed: c.keys.Seal([]byte(JobID(v.OrderNo)), pt),
	})
}

// Decode parses the payload of job jobID, opens its personal data and
// validates every field again: what comes out of Redis is outside input
// too. Errors never quote the payload; one for a key the ring lacks
// matches keyring.ErrUnknownKey and names it.
func (c *Codec) Decode(jobID string, b []byte) (Verification, error) {
	w, err := unmarshalWire(b)
	if err != nil {
		return Verification{}, err
	}
	if JobID(identity.OrderNo(w.OrderNo)) != jobID {
		return Verification{}, fmt.Errorf("%w: payload of another job", ErrPayload)
	}
	sf := sealedFields{Name: w.Name, IDNumber: w.IDNumber, Phone: w.Phone, BankCard: w.BankCard}
	if w.V == payloadVersion {
		pt, err := c.keys.Open([]byte(jobID), w.Sealed)
		if err != nil {
			return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
		}
		if err := json.Unmarshal(pt, &sf); err != nil {
			return Verification{}, fmt.Errorf("%w: sealed fields not of the expected shape", ErrPayload)
		}
	}
	v := Verification{Kind: w.Kind, CallbackURL: w.CallbackURL, Batch: w.Batch, BatchSeq: w.BatchSeq, EnqueuedAt: time.UnixMilli(w.EnqueuedAt)}
	if v.OrderNo, err = identity.ParseOrderNo(w.OrderNo); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if v.Name, err = identity.ParseName(sf.Name); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if v.IDNumber, err = identity.ParseIDNumber(sf.IDNumber); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if sf.Phone != "" {
		if v.Phone, err = identity.ParsePhone(sf.Phone); err != nil {
			return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
		}
	}
	if sf.BankCard != "" {
		if v.BankCard, err = identity.ParseBankCard(sf.BankCard); err != nil {
			return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
		}
	}
	if err := v.Validate(); err != nil {
		return Verification{}, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	return v, nil
}

func unmarshalWire(b []byte) (wireVerification, error) {
	var w wireVerification
	if err := json.Unmarshal(b, &w); err != nil {
		return w, fmt.Errorf("%w: not JSON of the expected shape", ErrPayload)
	}
	if w.V != payloadVersion && w.V != 1 {
		return w, fmt.Errorf("%w: version %d, want %d", ErrPayload, w.V, payloadVersion)
	}
	return w, nil
}

// MaskedVerification is what a payload shows without its key: the masked
// identity, and the job's clear fields.
type MaskedVerification struct {
	Kind                            Kind
	OrderNo                         string
	Name, IDNumber, Phone, BankCard string
	CallbackURL, Batch              string
	EnqueuedAt                      time.Time
	// KeyID names the key its personal data is sealed under; empty for
	// a payload written before encryption (version 1, in clear).
	KeyID string
}

// DecodeMasked reads what a payload shows without a key. A version 1
// payload's clear fields are masked here.
func DecodeMasked(b []byte) (MaskedVerification, error) {
	w, err := unmarshalWire(b)
	if err != nil {
		return MaskedVerification{}, err
	}
	m := MaskedVerification{Kind: w.Kind, OrderNo: w.OrderNo, CallbackURL: w.CallbackURL, Batch: w.Batch, EnqueuedAt: time.UnixMilli(w.EnqueuedAt),
		Name: w.Masked.Name, IDNumber: w.Masked.IDNumber, Phone: w.Masked.Phone, BankCard: w.Masked.BankCard}
	if w.V == payloadVersion {
		if m.KeyID, err = keyring.KeyID(w.Sealed); err != nil {
			return MaskedVerification{}, fmt.Errorf("%w: %w", ErrPayload, err)
		}
		return m, nil
	}
	m.Name, m.IDNumber = identity.Name(w.Name).Masked(), identity.IDNumber(w.IDNumber).Masked()
	if w.Phone != "" {
		m.Phone = identity.Phone(w.Phone).Masked()
	}
	if w.BankCard != "" {
		m.BankCard = identity.BankCard(w.BankCard).Masked()
	}
	return m, nil
}

// NewVerifyTask returns the task that runs v, with its job ID as task ID.
// opts come after the defaults, so callers can override the queue and the
// retry policy.
func (c *Codec) NewVerifyTask(v Verification, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := c.Encode(v)
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

// KeyUse counts the verification tasks that may still run (pending,
// active, scheduled, retry, archived) by the key their personal data is
// sealed under ("" for tasks written before encryption, in clear). perState > 0 reads at most that many tasks of
// each state of each queue, a sample; 0 reads them all.
func KeyUse(in *asynq.Inspector, perState int) (map[string]int, error) {
	const page = 1000
	size := page
	if perState > 0 {
		size = min(perState, page)
	}
	counts := map[string]int{}
	for _, q := range VerifyQueues {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			in.ListPendingTasks, in.ListActiveTasks, in.ListScheduledTasks, in.ListRetryTasks, in.ListArchivedTasks,
		} {
			for n, p := 0, 1; perState == 0 || n < perState; p++ {
				infos, err := list(q, asynq.PageSize(size), asynq.Page(p))
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("task: list %s tasks: %w", q, err)
				}
				for _, info := range infos {
					if m, err := DecodeMasked(info.Payload); err == nil {
						counts[m.KeyID]++
					}
				}
				n += len(infos)
				if len(infos) < size {
					break
				}
			}
		}
	}
	return counts, nil
}
