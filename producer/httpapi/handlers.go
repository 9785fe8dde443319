package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/bulk"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/ingest"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
)

// Verification is the answer about one verification: its job and, once
// it has one, its result (identity masked).
type Verification struct {
	Job    producer.Job  `json:"job"`
	Result *store.Result `json:"result,omitempty"`
}

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

func (s *Server) createVerification(w http.ResponseWriter, r *http.Request) {
	var req producer.Request
	if !s.decodeBody(w, r, &req) {
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > s.cfg.MaxWait {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "wait", fmt.Sprintf("wait must be a duration from 0s to %s, e.g. 5s", s.cfg.MaxWait))
			return
		}
		wait = d
	}
	v, err := s.cfg.Producer.Validate(req)
	if err != nil {
		writeInvalid(w, err)
		return
	}
	// An Idempotency-Key names one order: the same key with another order
	// number is the caller's bug, and is refused.
	if ik := r.Header.Get("Idempotency-Key"); ik != "" {
		if len(ik) > 255 {
			writeError(w, http.StatusBadRequest, "invalid_header", "Idempotency-Key", "the Idempotency-Key is longer than 255 characters")
			return
		}
		sum := sha256.Sum256([]byte(ik))
		key := "realname:idem:" + KeyFrom(r.Context()).ID + ":" + hex.EncodeToString(sum[:])
		prev, err := s.cfg.Redis.SetArgs(r.Context(), key, string(v.OrderNo), redis.SetArgs{Mode: "NX", Get: true, TTL: idempotencyTTL}).Result()
		switch {
		case errors.Is(err, redis.Nil): // first use
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot record the Idempotency-Key now")
			return
		case prev != string(v.OrderNo):
			writeError(w, http.StatusConflict, "idempotency_key_reused", "Idempotency-Key", "this Idempotency-Key was used for another orderNo")
			return
		}
	}
	v.EnqueuedAt = time.Now()
	job, err := s.cfg.Producer.EnqueueVerification(r.Context(), v, producer.Signup)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot enqueue now; retry with the same orderNo")
		return
	}
	out := Verification{Job: *job}
	if wait > 0 || job.State == "completed" {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		out.Result = s.waitResult(ctx, job.ID)
	}
	if out.Result != nil {
		out.Job.State = "completed"
		writeJSON(w, http.StatusOK, out)
		return
	}
	writeJSON(w, http.StatusAccepted, out)
}

// waitResult polls the store until the job's result is there or ctx ends.
func (s *Server) waitResult(ctx context.Context, jobID string) *store.Result {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if res, err := s.store.Get(ctx, jobID); err == nil {
			return res
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Server) getVerification(w http.ResponseWriter, r *http.Request) {
	s.describe(w, r, r.PathValue("id"))
}

func (s *Server) findVerification(w http.ResponseWriter, r *http.Request) {
	o, err := identity.ParseOrderNo(r.URL.Query().Get("orderNo"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "orderNo", "orderNo is required: "+err.(*identity.FieldError).Reason)
		return
	}
	s.describe(w, r, task.JobID(o))
}

// describe answers with a job's state and result.
func (s *Server) describe(w http.ResponseWriter, r *http.Request, jobID string) {
	orderNo, ok := task.OrderNoOf(jobID)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "", "no such verification")
		return
	}
	out := Verification{Job: producer.Job{ID: jobID, OrderNo: string(orderNo)}}
	res, err := s.store.Get(r.Context(), jobID)
	switch {
	case err == nil:
		out.Job.State, out.Result = "completed", res
		writeJSON(w, http.StatusOK, out)
		return
	case !errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot read results now")
		return
	}
	for _, q := range task.VerifyQueues {
		if info, err := s.inspector.GetTaskInfo(q, jobID); err == nil {
			out.Job.Queue, out.Job.State = q, info.State.String()
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "", "no such verification")
}

// BatchAnswer is the answer to a batch upload: the totals of this upload
// and the first rejects.
type BatchAnswer struct {
	Batch    *batch.Status   `json:"batch"`
	Upload   bulk.Stats      `json:"upload"`
	Rejects  []ingest.Reject `json:"rejects"`
	Complete bool            `json:"complete"`
}

// maxRejectsShown bounds the rejects listed in a BatchAnswer; all are
// counted.
const maxRejectsShown = 1000

// rejectList collects the first rejects of an upload; it is a
// bulk.RejectSink.
type rejectList struct{ list []ingest.Reject }

func (l *rejectList) Write(rej ingest.Reject) error {
	if len(l.list) < maxRejectsShown {
		l.list = append(l.list, rej)
	}
	return nil
}

func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, kindName := q.Get("name"), q.Get("kind")
	if err := batch.ValidName(name); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "name", err.Error())
		return
	}
	kind, err := task.ParseKind(kindName)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "kind", "kind must be one of idcard, mobile3, bankcard3, bankcard4")
		return
	}
	callbackURL := q.Get("callbackUrl")
	if callbackURL != "" {
		// Open checks it too, under the same policy; refused here, before
		// the body is read, the upload costs nothing.
		policy := s.cfg.Producer.CallbackPolicy()
		if err := policy.Check(callbackURL); err != nil {
			writeCallbackError(w, err)
			return
		}
	}
	format := ingest.FormatAuto
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "text/csv"):
		format = ingest.FormatCSV
	case strings.HasPrefix(ct, "application/x-ndjson"), strings.HasPrefix(ct, "application/jsonl"):
		format = ingest.FormatJSONL
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "", "the body must be text/csv or application/x-ndjson")
		return
	}
	// An upload may take long: lift the server's deadlines for this request.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(time.Hour))
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))

	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBatchBytes)
	reader, err := ingest.NewReader(body, ingest.Config{Kind: kind, Format: format})
	if err != nil {
		var he *ingest.HeaderError
		if errors.As(err, &he) {
			writeError(w, http.StatusUnprocessableEntity, "invalid_header", "", err.Error())
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_body", "", err.Error())
		return
	}
	owner, admin := callerOf(r)
	if st, err := s.batches.Get(r.Context(), name); err == nil && st.State == batch.StateCompleted && st.VisibleTo(owner, admin) {
		writeJSON(w, http.StatusOK, BatchAnswer{Batch: st, Complete: true, Rejects: []ingest.Reject{}})
		return
	}
	if admin {
		owner = ""
	}
	if _, err := s.batches.OpenAs(r.Context(), name, string(kind), callbackURL, owner); err != nil {
		if errors.As(err, new(*webhook.URLError)) {
			writeCallbackError(w, err)
			return
		}
		if errors.Is(err, batch.ErrNotOwned) {
			writeError(w, http.StatusNotFound, "not_found", "", "no such batch of this API key; choose another name")
			return
		}
		writeError(w, http.StatusConflict, "batch_conflict", "name", err.Error())
		return
	}
	var rejects rejectList
	stats, err := bulk.Enqueue(r.Context(), reader, bulk.Config{Producer: s.cfg.Producer, Batches: s.batches, Batch: name, Rejects: &rejects}, nil)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "", "the upload is too large; what was read is enqueued, send the rest again")
			return
		}
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "the upload stopped: "+err.Error()+"; send the same body again to finish")
		return
	}
	completed, err := s.batches.Seal(context.WithoutCancel(r.Context()), name)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot seal the batch now; send the same body again")
		return
	}
	st, err := s.batches.Get(r.Context(), name)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot read the batch now")
		return
	}
	if rejects.list == nil {
		rejects.list = []ingest.Reject{}
	}
	writeJSON(w, http.StatusCreated, BatchAnswer{Batch: st, Upload: stats, Rejects: rejects.list, Complete: completed})
}

// writeCallbackError answers a callbackUrl the policy refused: 400 naming
// the parameter, with the reason (never the URL's path or query).
func writeCallbackError(w http.ResponseWriter, err error) {
	msg := "callbackUrl is not an acceptable webhook URL"
	var ue *webhook.URLError
	if errors.As(err, &ue) {
		msg = "callbackUrl: " + ue.Reason
	}
	writeError(w, http.StatusBadRequest, "invalid_parameter", producer.FieldCallbackURL, msg)
}

// callerOf returns the ID of the API key of the request and whether it is
// an admin key.
func callerOf(r *http.Request) (keyID string, admin bool) {
	k := KeyFrom(r.Context())
	if k == nil {
		return "", false
	}
	return k.ID, k.Has(apikey.ScopeAdmin)
}

// visibleBatch returns the batch of the request's path if the caller may
// see it (see batch.Status.VisibleTo); otherwise it answers 404, as for a
// batch that does not exist, or 503, and returns nil.
func (s *Server) visibleBatch(w http.ResponseWriter, r *http.Request) *batch.Status {
	st, err := s.batches.Get(r.Context(), r.PathValue("id"))
	if err != nil && !errors.Is(err, batch.ErrNotFound) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot read the batch now")
		return nil
	}
	if owner, admin := callerOf(r); err != nil || !st.VisibleTo(owner, admin) {
		writeError(w, http.StatusNotFound, "not_found", "", "no such batch")
		return nil
	}
	return st
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	if st := s.visibleBatch(w, r); st != nil {
		writeJSON(w, http.StatusOK, st)
	}
}

func (s *Server) cancelBatch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("id")
	if s.visibleBatch(w, r) == nil {
		return
	}
	_, err := s.batches.Cancel(r.Context(), name)
	switch {
	case errors.Is(err, batch.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "", "no such batch")
		return
	case err != nil:
		writeError(w, http.StatusConflict, "batch_conflict", "", err.Error())
		return
	}
	st, err := s.batches.Get(r.Context(), name)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot read the batch now")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// batchResults streams every result of a batch as NDJSON, or CSV with
// ?format=csv, in enqueue order.
func (s *Server) batchResults(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("id")
	if s.visibleBatch(w, r) == nil {
		return
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "", "jsonl", "ndjson":
		format = "jsonl"
		w.Header().Set("Content-Type", "application/x-ndjson")
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	default:
		writeError(w, http.StatusBadRequest, "invalid_parameter", "format", "format must be jsonl or csv")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))
	w.WriteHeader(http.StatusOK)
	// The status is sent: a failure midway can only cut the stream short.
	_ = batch.Export(r.Context(), w, format, s.batches, s.store, name, rc.Flush)
}

// ReplayRequest asks for archived webhooks to be sent again: those of the
// given jobs, or all of them when JobIDs is empty.
type ReplayRequest struct {
	JobIDs []string `json:"jobIds"`
}

// ReplayAnswer says how many webhooks were queued again.
type ReplayAnswer struct {
	Queued   int      `json:"queued"`
	NotFound []string `json:"notFound,omitempty"`
}

func (s *Server) replayWebhooks(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if r.ContentLength != 0 && !s.decodeBody(w, r, &req) {
		return
	}
	var out ReplayAnswer
	if len(req.JobIDs) == 0 {
		n, err := s.inspector.RunAllArchivedTasks(task.QueueWebhook)
		if err != nil && !strings.Contains(err.Error(), "does not exist") {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot replay now")
			return
		}
		out.Queued = n
	}
	for _, id := range req.JobIDs {
		if err := s.inspector.RunTask(task.QueueWebhook, task.WebhookID(id)); err != nil {
			out.NotFound = append(out.NotFound, id)
			continue
		}
		out.Queued++
	}
	writeJSON(w, http.StatusOK, out)
}
