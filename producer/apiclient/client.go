// Package apiclient is a Go client for realname's HTTP API, for backends
// that call a realname server over the network rather than importing the
// producer package. It uses only the standard library.
//
//	c := apiclient.New("https://realname.internal", os.Getenv("REALNAME_API_KEY"))
//	v, err := c.CreateVerification(ctx, apiclient.VerificationRequest{...}, &apiclient.CreateOpts{Wait: 5 * time.Second})
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls a realname API server. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client. The default has a 60s timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client for the server at baseURL (e.g.
// "https://realname.internal"), authenticating with an API key.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), token: apiKey, hc: &http.Client{Timeout: 60 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an error answer of the server.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the server's stable error code, e.g. "invalid_field".
	Code string `json:"code"`
	// Field names the field at fault, if one.
	Field string `json:"field"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Fields lists every invalid field of a request.
	Fields []FieldIssue `json:"fields"`
}

// FieldIssue is one invalid field.
type FieldIssue struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error implements error.
func (e *Error) Error() string {
	s := fmt.Sprintf("realname API: %d %s", e.StatusCode, e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s + ": " + e.Message
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// VerificationRequest is one verification to run.
type VerificationRequest struct {
	// Kind is idcard, mobile3, bankcard3 or bankcard4.
	Kind string `json:"kind"`
	// OrderNo is your serial number of this verification; sending it again
	// returns the first job.
	OrderNo        string `json:"orderNo"`
	Name           string `json:"name"`
	IDNumber       string `json:"idNumber"`
	PhoneNumber    string `json:"phoneNumber,omitempty"`
	BankCardNumber string `json:"bankCardNumber,omitempty"`
	// CallbackURL receives the result's webhook (empty: the server's
	// default): an absolute https URL to a public host, without user info
	// or a fragment, unless the server allowlists the host. Anything else
	// is refused with a FieldError on callbackUrl.
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// Job is a queued verification.
type Job struct {
	ID        string `json:"id"`
	OrderNo   string `json:"orderNo"`
	Queue     string `json:"queue,omitempty"`
	State     string `json:"state"`
	Duplicate bool   `json:"duplicate"`
}

// Result is a verification's final answer, with the identity masked.
type Result struct {
	JobID          string         `json:"jobId"`
	OrderNo        string         `json:"orderNo"`
	Kind           string         `json:"kind"`
	Batch          string         `json:"batch,omitempty"`
	Class          string         `json:"class"`
	Provider       string         `json:"provider,omitempty"`
	Action         string         `json:"action,omitempty"`
	Code           int            `json:"code"`
	AuthCode       string         `json:"authCode,omitempty"`
	Message        string         `json:"message,omitempty"`
	Error          string         `json:"error,omitempty"`
	Attempts       int            `json:"attempts"`
	Cached         bool           `json:"cached,omitempty"`
	PossiblyBilled int            `json:"possiblyBilled,omitempty"`
	Identity       MaskedIdentity `json:"identity"`
	EnqueuedAt     time.Time      `json:"enqueuedAt"`
	CompletedAt    time.Time      `json:"completedAt"`
}

// MaskedIdentity is the identity of a result, masked by the server.
type MaskedIdentity struct {
	Name           string `json:"name,omitempty"`
	IDNumber       string `json:"idNumber,omitempty"`
	PhoneNumber    string `json:"phoneNumber,omitempty"`
	BankCardNumber string `json:"bankCardNumber,omitempty"`
}

// Verification is a job and, once it has one, its result.
type Verification struct {
	Job    Job     `json:"job"`
	Result *Result `json:"result,omitempty"`
}

// CreateOpts are options of CreateVerification; nil means none.
type CreateOpts struct {
	// Wait asks the server to wait up to this long for the result and
	// return it inline.
	Wait time.Duration
	// IdempotencyKey ties this request to one order number for a day.
	IdempotencyKey string
}

// CreateVerification enqueues a verification. An order number sent again
// returns the first job, with Job.Duplicate set.
func (c *Client) CreateVerification(ctx context.Context, req VerificationRequest, opts *CreateOpts) (*Verification, error) {
	path := "/v1/verifications"
	hdr := http.Header{}
	if opts != nil {
		if opts.Wait > 0 {
			path += "?wait=" + url.QueryEscape(opts.Wait.String())
		}
		if opts.IdempotencyKey != "" {
			hdr.Set("Idempotency-Key", opts.IdempotencyKey)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var v Verification
	if err := c.do(ctx, http.MethodPost, path, "application/json", bytes.NewReader(body), hdr, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// GetVerification returns a verification by job ID.
func (c *Client) GetVerification(ctx context.Context, jobID string) (*Verification, error) {
	var v Verification
	if err := c.do(ctx, http.MethodGet, "/v1/verifications/"+url.PathEscape(jobID), "", nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// FindVerification returns the verification of an order number.
func (c *Client) FindVerification(ctx context.Context, orderNo string) (*Verification, error) {
	var v Verification
	if err := c.do(ctx, http.MethodGet, "/v1/verifications?orderNo="+url.QueryEscape(orderNo), "", nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Batch is a batch's record.
type Batch struct {
	Name        string           `json:"name"`
	Kind        string           `json:"kind"`
	State       string           `json:"state"`
	CallbackURL string           `json:"callbackUrl,omitempty"`
	Read        int64            `json:"read"`
	Rejected    int64            `json:"rejected"`
	Present     int64            `json:"present"`
	Total       int64            `json:"total"`
	Done        int64            `json:"done"`
	ByClass     map[string]int64 `json:"byClass"`
	Cached      int64            `json:"cached"`
	CreatedAt   time.Time        `json:"createdAt"`
	CompletedAt time.Time        `json:"completedAt"`
}

// Reject is a row of an upload that could not be enqueued.
type Reject struct {
	Line   int64  `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Upload is the answer to a batch upload.
type Upload struct {
	Batch  *Batch `json:"batch"`
	Totals struct {
		Read     int64 `json:"read"`
		Enqueued int64 `json:"enqueued"`
		Present  int64 `json:"present"`
		Rejected int64 `json:"rejected"`
	} `json:"upload"`
	// Rejects lists the first rejected rows (all are counted).
	Rejects  []Reject `json:"rejects"`
	Complete bool     `json:"complete"`
}

// BatchOpts are options of CreateBatch; nil means none.
type BatchOpts struct {
	// CallbackURL receives the batch.completed event; the same rules as
	// VerificationRequest.CallbackURL apply (a refusal is a 400 naming
	// callbackUrl, and the batch is left as it was).
	CallbackURL string
}

// CreateBatch streams body (CSV with a header when contentType is
// "text/csv", one JSON object a line for "application/x-ndjson") into the
// batch name. Sending the same body again enqueues only rows not yet
// enqueued.
func (c *Client) CreateBatch(ctx context.Context, name, kind, contentType string, body io.Reader, opts *BatchOpts) (*Upload, error) {
	q := url.Values{"name": {name}, "kind": {kind}}
	if opts != nil && opts.CallbackURL != "" {
		q.Set("callbackUrl", opts.CallbackURL)
	}
	var u Upload
	if err := c.do(ctx, http.MethodPost, "/v1/batches?"+q.Encode(), contentType, body, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetBatch returns a batch's record.
func (c *Client) GetBatch(ctx context.Context, name string) (*Batch, error) {
	var b Batch
	if err := c.do(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(name), "", nil, nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// CancelBatch cancels a batch.
func (c *Client) CancelBatch(ctx context.Context, name string) (*Batch, error) {
	var b Batch
	if err := c.do(ctx, http.MethodPost, "/v1/batches/"+url.PathEscape(name)+"/cancel", "", nil, nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// BatchResults streams a batch's results, calling fn for each. A job
// without a result yet comes with class "pending".
func (c *Client) BatchResults(ctx context.Context, name string, fn func(*Result) error) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(name)+"/results", "", nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var r Result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("realname API: read results: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
}

// ReplayWebhooks sends archived webhooks again: those of the given jobs, or
// all when none is given. It returns how many were queued.
func (c *Client) ReplayWebhooks(ctx context.Context, jobIDs ...string) (int, error) {
	body, _ := json.Marshal(map[string][]string{"jobIds": jobIDs})
	var out struct {
		Queued int `json:"queued"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/webhooks/replay", "application/json", bytes.NewReader(body), nil, &out); err != nil {
		return 0, err
	}
	return out.Queued, nil
}

func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb struct {
			Error Error `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			eb.Error = Error{Code: "http_error", Message: http.StatusText(resp.StatusCode)}
		}
		eb.Error.StatusCode = resp.StatusCode
		return nil, &eb.Error
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, hdr http.Header, out any) error {
	resp, err := c.send(ctx, method, path, contentType, body, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("realname API: decode answer: %w", err)
	}
	return nil
}
