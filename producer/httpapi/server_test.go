package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/demo"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/producer/httpapi"
	"github.com/realname-io/realname/worker"
)

func TestMain(m *testing.M) { redistest.Main(m) }

type bundle struct {
	rdb    *redis.Client
	srv    *httptest.Server
	tokens map[string]string // scope set → token
	stack  *demo.Stack
	logs   *bytes.Buffer
}

// setup serves the API on loopback with keys of each scope; with a worker
// when work is true, against the sandbox.
func setup(t *testing.T, work bool) *bundle {
	t.Helper()
	db := redistest.New(t)
	rdb := db.Client(t)
	codec, _ := task.NewCodec(keyring.Ephemeral())
	results, _ := store.NewRedis(rdb, store.RedisConfig{})
	prod, err := producer.New(producer.Config{Redis: rdb, Store: results, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	b := &bundle{rdb: rdb, tokens: map[string]string{}, logs: &bytes.Buffer{}}
	s, err := httpapi.New(httpapi.Config{Redis: rdb, Producer: prod, Store: results, MaxWait: 10 * time.Second, MaxBodyBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(s)
	t.Cleanup(b.srv.Close)
	keys := apikey.New(rdb)
	for _, sc := range []string{"enqueue", "read", "admin", "enqueue,read"} {
		scopes, _ := apikey.ParseScopes(sc)
		_, token, err := keys.Create(context.Background(), "test "+sc, scopes)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[sc] = token
	}
	b.stack, err = demo.NewStack(demo.StackConfig{N: 40, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stack.Close)
	if work {
		provider, _ := b.stack.Client(tencentv2.Config{})
		hooks, _ := b.stack.WebhookClient()
		w, err := worker.New(worker.Config{Redis: rdb, Provider: provider, Store: results, Webhooks: hooks, Codec: codec,
			DefaultWebhookURL: b.stack.ReceiverURL, PollInterval: 10 * time.Millisecond, TaskCheckInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return b
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (b *bundle) do(t *testing.T, method, path, token, contentType string, body io.Reader, hdr map[string]string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d, body %q is not JSON: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return resp
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func request(e sample.Entry, kind string) producer.Request {
	return producer.Request{Kind: kind, OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber, Phone: e.Phone, BankCard: e.BankCard}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	e := b.stack.Entries[0]
	cases := []struct {
		name, token string
		want        int
	}{
		{"no key", "", 401},
		{"malformed key", "nope", 401},
		{"unknown key", "rn_000000000000_abc", 401},
		{"read-only key cannot enqueue", b.tokens["read"], 403},
		{"enqueue key", b.tokens["enqueue"], 202},
	}
	for _, tc := range cases {
		var errBody httpapi.Error
		var out any = &errBody
		if tc.want < 300 {
			out = nil
		}
		resp := b.do(t, "POST", "/v1/verifications", tc.token, "application/json", jsonBody(request(e, "idcard")), nil, out)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want >= 400 && (errBody.Error.Code == "" || errBody.Error.Message == "") {
			t.Errorf("%s: error body %+v lacks a code or message", tc.name, errBody)
		}
	}
	// The scheme's name is case-insensitive (RFC 7235).
	for _, scheme := range []string{"bearer", "BEARER", "Bearer "} {
		resp := b.do(t, "GET", "/v1/verifications?orderNo="+e.OrderNo, "", "", nil,
			map[string]string{"Authorization": scheme + " " + b.tokens["read"]}, nil)
		if resp.StatusCode == 401 || resp.StatusCode == 403 {
			t.Errorf("scheme %q: %d, want the key accepted", scheme, resp.StatusCode)
		}
	}
	// An unknown field is refused without its name echoed: it may be data.
	var eb httpapi.Error
	b.do(t, "POST", "/v1/verifications", b.tokens["enqueue"], "application/json", strings.NewReader(`{"张三丰":1}`), nil, &eb)
	if eb.Error.Code != "invalid_json" || strings.Contains(eb.Error.Message, "张三丰") {
		t.Errorf("unknown field: %+v, want invalid_json without the field's name", eb)
	}
	// A revoked key stops working at once.
	keys := apikey.New(b.rdb)
	all, _ := keys.List(context.Background())
	for _, k := range all {
		if k.Name == "test read" {
			if err := keys.Revoke(context.Background(), k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if resp := b.do(t, "GET", "/v1/verifications?orderNo="+e.OrderNo, b.tokens["read"], "", nil, nil, nil); resp.StatusCode != 401 {
		t.Fatalf("revoked key: %d, want 401", resp.StatusCode)
	}
}

func TestCreateVerificationErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	e := b.stack.Entries[1]
	tok := b.tokens["enqueue"]
	bad := request(e, "mobile3")
	bad.IDNumber = e.IDNumber[:17] + "0"
	if bad.IDNumber == e.IDNumber {
		bad.IDNumber = e.IDNumber[:17] + "1"
	}
	bad.Name = "Zhang San"
	bad.Phone = ""
	var errBody httpapi.Error
	resp := b.do(t, "POST", "/v1/verifications", tok, "application/json", jsonBody(bad), nil, &errBody)
	if resp.StatusCode != 422 || errBody.Error.Code != "invalid_field" || len(errBody.Error.Fields) != 3 {
		t.Fatalf("invalid fields: %d %+v", resp.StatusCode, errBody)
	}
	var fields []string
	for _, f := range errBody.Error.Fields {
		fields = append(fields, f.Field)
	}
	sort.Strings(fields)
	if !slices.Equal(fields, []string{"idNumber", "name", "phoneNumber"}) {
		t.Fatalf("fields %v", fields)
	}
	raw, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(raw), bad.IDNumber) || strings.Contains(string(raw), "Zhang") {
		t.Fatal("an error body echoes personal data")
	}

	cases := []struct {
		name, ct, body string
		hdr            map[string]string
		want           int
		code           string
	}{
		{"not JSON", "application/json", "{", nil, 400, "invalid_json"},
		{"unknown field", "application/json", `{"kind":"idcard","extra":1}`, nil, 400, "invalid_json"},
		{"trailing data", "application/json", `{"kind":"idcard"} {"kind":"mobile3"}`, nil, 400, "invalid_json"},
		{"trailing garbage", "application/json", `{"kind":"idcard"}x`, nil, 400, "invalid_json"},
		{"wrong type", "application/json", `{"kind":"idcard","orderNo":5}`, nil, 400, "invalid_json"},
		{"form body", "application/x-www-form-urlencoded", "a=b", nil, 415, "unsupported_media_type"},
		{"too large", "application/json", `{"name":"` + strings.Repeat("张", 5000) + `"}`, nil, 413, "body_too_large"},
		{"bad wait", "application/json", `{}`, nil, 400, "invalid_parameter"},
	}
	for _, tc := range cases {
		path := "/v1/verifications"
		if tc.name == "bad wait" {
			path += "?wait=forever"
		}
		var eb httpapi.Error
		resp := b.do(t, "POST", path, tok, tc.ct, strings.NewReader(tc.body), tc.hdr, &eb)
		if resp.StatusCode != tc.want || eb.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, resp.StatusCode, eb, tc.want, tc.code)
		}
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	tok := b.tokens["enqueue,read"]
	e0, e1 := b.stack.Entries[2], b.stack.Entries[3]
	key := map[string]string{"Idempotency-Key": "signup-form-42"}
	var first, second httpapi.Verification
	if resp := b.do(t, "POST", "/v1/verifications", tok, "application/json", jsonBody(request(e0, "idcard")), key, &first); resp.StatusCode != 202 || first.Job.Duplicate {
		t.Fatalf("first: %d %+v", resp.StatusCode, first)
	}
	if resp := b.do(t, "POST", "/v1/verifications", tok, "application/json", jsonBody(request(e0, "idcard")), key, &second); resp.StatusCode != 202 || !second.Job.Duplicate || second.Job.ID != first.Job.ID {
		t.Fatalf("retry with the same key: %d %+v", resp.StatusCode, second)
	}
	var eb httpapi.Error
	if resp := b.do(t, "POST", "/v1/verifications", tok, "application/json", jsonBody(request(e1, "idcard")), key, &eb); resp.StatusCode != 409 || eb.Error.Code != "idempotency_key_reused" {
		t.Fatalf("same key, other order: %d %+v", resp.StatusCode, eb)
	}
	// Same orderNo without a key: the same job.
	var third httpapi.Verification
	b.do(t, "POST", "/v1/verifications", tok, "application/json", jsonBody(request(e0, "idcard")), nil, &third)
	if !third.Job.Duplicate || third.Job.ID != first.Job.ID {
		t.Fatalf("same order: %+v", third)
	}
	var got httpapi.Verification
	if resp := b.do(t, "GET", "/v1/verifications/"+first.Job.ID, tok, "", nil, nil, &got); resp.StatusCode != 200 || got.Job.State != "pending" {
		t.Fatalf("get: %d %+v", resp.StatusCode, got)
	}
	if resp := b.do(t, "GET", "/v1/verifications?orderNo="+url.QueryEscape(e0.OrderNo), tok, "", nil, nil, &got); resp.StatusCode != 200 || got.Job.ID != first.Job.ID {
		t.Fatalf("find: %d %+v", resp.StatusCode, got)
	}
	if resp := b.do(t, "GET", "/v1/verifications/vrf:nope", tok, "", nil, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("missing: %d", resp.StatusCode)
	}
}

// TestWaitForResult: ?wait returns the result inline when the worker
// answers in time.
func TestWaitForResult(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	e := b.stack.Entries[4]
	var out httpapi.Verification
	resp := b.do(t, "POST", "/v1/verifications?wait=8s", b.tokens["enqueue"], "application/json", jsonBody(request(e, "idcard")), nil, &out)
	want := string(demo.Truth(e, "idcard"))
	if resp.StatusCode != 200 || out.Result == nil || out.Result.Class != want || out.Job.State != "completed" {
		t.Fatalf("wait: %d %+v, want 200 with class %s", resp.StatusCode, out, want)
	}
	if out.Result.Identity.IDNumber == e.IDNumber || !strings.Contains(out.Result.Identity.IDNumber, "*") {
		t.Fatal("the result's identity is not masked")
	}
}

// TestBatchRoutes uploads a CSV with bad rows, follows, exports, cancels.
func TestBatchRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	tok := b.tokens["enqueue,read"]
	var csv bytes.Buffer
	if err := sample.WriteCSV(&csv, sample.Generate(30, 9)); err != nil {
		t.Fatal(err)
	}
	csv.WriteString("BAD-1,张三,110105194912310021,,\n")
	var ans httpapi.BatchAnswer
	resp := b.do(t, "POST", "/v1/batches?name=api-b1&kind=idcard", tok, "text/csv", bytes.NewReader(csv.Bytes()), nil, &ans)
	if resp.StatusCode != 201 || ans.Upload.Enqueued != 30 || ans.Upload.Rejected != 1 || len(ans.Rejects) != 1 ||
		ans.Rejects[0].Field != "idNumber" || ans.Rejects[0].Line != 32 || ans.Batch.Total != 30 {
		t.Fatalf("upload: %d %+v", resp.StatusCode, ans)
	}
	// Again: nothing new.
	b.do(t, "POST", "/v1/batches?name=api-b1&kind=idcard", tok, "text/csv", bytes.NewReader(csv.Bytes()), nil, &ans)
	if ans.Upload.Enqueued != 0 || ans.Upload.Present != 30 {
		t.Fatalf("second upload: %+v", ans.Upload)
	}
	var st map[string]any
	if resp := b.do(t, "GET", "/v1/batches/api-b1", tok, "", nil, nil, &st); resp.StatusCode != 200 || st["total"] != float64(30) {
		t.Fatalf("get batch: %d %+v", resp.StatusCode, st)
	}
	resp = b.do(t, "GET", "/v1/batches/api-b1/results", tok, "", nil, nil, nil)
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Count(string(raw), "\n") != 30 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("results: %d %s, %d lines", resp.StatusCode, resp.Header.Get("Content-Type"), strings.Count(string(raw), "\n"))
	}
	resp = b.do(t, "GET", "/v1/batches/api-b1/results?format=csv", tok, "", nil, nil, nil)
	raw, _ = io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(raw), "orderNo,jobId,") || strings.Count(string(raw), "\n") != 31 {
		t.Fatalf("csv results: %q", raw)
	}
	if resp := b.do(t, "POST", "/v1/batches/api-b1/cancel", tok, "", nil, nil, &st); resp.StatusCode != 200 || st["state"] != "cancelled" {
		t.Fatalf("cancel: %d %+v", resp.StatusCode, st)
	}
	var eb httpapi.Error
	if resp := b.do(t, "POST", "/v1/batches?name=api-b2&kind=mobile3", tok, "text/csv", strings.NewReader("orderNo,name,idNumber\n"), nil, &eb); resp.StatusCode != 422 {
		t.Fatalf("header without phoneNumber: %d %+v", resp.StatusCode, eb)
	}
	if resp := b.do(t, "POST", "/v1/batches?name=api-b3&kind=idcard", tok, "application/pdf", strings.NewReader("x"), nil, &eb); resp.StatusCode != 415 {
		t.Fatalf("pdf: %d", resp.StatusCode)
	}
}

// operation is one documented route.
type operation struct {
	method, path string
	statuses     map[string]bool
	security     bool
}

func documented(t *testing.T) []operation {
	t.Helper()
	var doc struct {
		Security []map[string]any `json:"security"`
		Paths    map[string]map[string]struct {
			Security  *[]map[string]any          `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var ops []operation
	for path, methods := range doc.Paths {
		for m, op := range methods {
			o := operation{method: strings.ToUpper(m), path: path, statuses: map[string]bool{}, security: op.Security == nil || len(*op.Security) > 0}
			for s := range op.Responses {
				o.statuses[s] = true
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// TestOpenAPIMatchesRoutes: every documented operation exists and answers
// with a documented status, for a good request and for one without a key;
// and every route the server has is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	admin := b.tokens["admin"]
	var csv bytes.Buffer
	_ = sample.WriteCSV(&csv, sample.Generate(3, 12))
	e := b.stack.Entries[5]
	// Something for the path parameters to name.
	var v httpapi.Verification
	b.do(t, "POST", "/v1/verifications", admin, "application/json", jsonBody(request(e, "idcard")), nil, &v)
	b.do(t, "POST", "/v1/batches?name=doc&kind=idcard", admin, "text/csv", bytes.NewReader(csv.Bytes()), nil, nil)
	var csv2, csv3 bytes.Buffer
	_ = sample.WriteCSV(&csv2, sample.Generate(3, 13))
	_ = sample.WriteCSV(&csv3, sample.Generate(3, 14))
	b.do(t, "POST", "/v1/batches?name=doc2&kind=idcard", admin, "text/csv", bytes.NewReader(csv2.Bytes()), nil, nil)

	requests := map[string]func() (string, string, io.Reader){
		"POST /v1/verifications": func() (string, string, io.Reader) {
			return "/v1/verifications", "application/json", jsonBody(request(b.stack.Entries[6], "idcard"))
		},
		"GET /v1/verifications": func() (string, string, io.Reader) {
			return "/v1/verifications?orderNo=" + url.QueryEscape(e.OrderNo), "", nil
		},
		"GET /v1/verifications/{id}": func() (string, string, io.Reader) { return "/v1/verifications/" + v.Job.ID, "", nil },
		"POST /v1/batches": func() (string, string, io.Reader) {
			return "/v1/batches?name=doc3&kind=idcard", "text/csv", bytes.NewReader(csv3.Bytes())
		},
		"GET /v1/batches/{id}":         func() (string, string, io.Reader) { return "/v1/batches/doc", "", nil },
		"POST /v1/batches/{id}/cancel": func() (string, string, io.Reader) { return "/v1/batches/doc2/cancel", "", nil },
		"GET /v1/batches/{id}/results": func() (string, string, io.Reader) { return "/v1/batches/doc/results", "", nil },
		"POST /v1/webhooks/replay": func() (string, string, io.Reader) {
			return "/v1/webhooks/replay", "application/json", strings.NewReader(`{}`)
		},
		"GET /healthz":      func() (string, string, io.Reader) { return "/healthz", "", nil },
		"GET /readyz":       func() (string, string, io.Reader) { return "/readyz", "", nil },
		"GET /openapi.json": func() (string, string, io.Reader) { return "/openapi.json", "", nil },
	}
	ops := documented(t)
	if len(ops) != len(requests) {
		var names []string
		for _, o := range ops {
			names = append(names, o.method+" "+o.path)
		}
		t.Fatalf("the document has %d operations %v; the server has %d routes", len(ops), names, len(requests))
	}
	for _, o := range ops {
		mk, ok := requests[o.method+" "+o.path]
		if !ok {
			t.Errorf("%s %s is documented but the test has no request for it", o.method, o.path)
			continue
		}
		path, ct, body := mk()
		resp := b.do(t, o.method, path, admin, ct, body, nil, nil)
		if resp.StatusCode == 404 && o.statuses["404"] && !strings.Contains(path, "nope") {
			t.Errorf("%s %s: 404 for an existing resource", o.method, path)
		}
		if !o.statuses[itoa(resp.StatusCode)] {
			t.Errorf("%s %s: %d is not a documented status", o.method, path, resp.StatusCode)
		}
		if resp.StatusCode >= 300 {
			t.Errorf("%s %s: %d for a good request", o.method, path, resp.StatusCode)
		}
		if o.security {
			path, ct, body := mk()
			if resp := b.do(t, o.method, path, "", ct, body, nil, nil); resp.StatusCode != 401 || !o.statuses["401"] {
				t.Errorf("%s %s without a key: %d (documented 401: %v)", o.method, path, resp.StatusCode, o.statuses["401"])
			}
		}
	}
	// An undocumented route is a 404 with a JSON error.
	var eb httpapi.Error
	if resp := b.do(t, "GET", "/v2/anything", admin, "", nil, nil, &eb); resp.StatusCode != 404 || eb.Error.Code != "not_found" {
		t.Fatalf("undocumented route: %d %+v", resp.StatusCode, eb)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestBatchOwnership: a batch belongs to the API key that created it:
// another non-admin key gets 404 for its status, results, cancel and
// re-upload, and its refused re-upload changes nothing; an admin key sees
// it.
func TestBatchOwnership(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := context.Background()
	keys := apikey.New(b.rdb)
	_, other, err := keys.Create(ctx, "other backend", []apikey.Scope{apikey.ScopeEnqueue, apikey.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := sample.WriteCSV(&csv, sample.Generate(5, 11)); err != nil {
		t.Fatal(err)
	}
	owner := b.tokens["enqueue,read"]
	if resp := b.do(t, "POST", "/v1/batches?name=owned&kind=idcard", owner, "text/csv", bytes.NewReader(csv.Bytes()), nil, nil); resp.StatusCode != 201 {
		t.Fatalf("upload by its owner: %d", resp.StatusCode)
	}
	before, _ := b.rdb.HGetAll(ctx, "realname:batch:owned").Result()
	for _, r := range []struct{ method, path, ct string }{
		{"GET", "/v1/batches/owned", ""},
		{"GET", "/v1/batches/owned/results", ""},
		{"POST", "/v1/batches/owned/cancel", ""},
		{"POST", "/v1/batches?name=owned&kind=idcard&callbackUrl=https://attacker.example/h", "text/csv"},
	} {
		var body io.Reader
		if r.ct != "" {
			body = bytes.NewReader(csv.Bytes())
		}
		if resp := b.do(t, r.method, r.path, other, r.ct, body, nil, nil); resp.StatusCode != 404 {
			t.Errorf("%s %s by another key: %d, want 404", r.method, r.path, resp.StatusCode)
		}
	}
	after, _ := b.rdb.HGetAll(ctx, "realname:batch:owned").Result()
	if len(before) == 0 || !maps.Equal(before, after) {
		t.Fatalf("refused requests changed the batch: %v → %v", before, after)
	}
	if resp := b.do(t, "GET", "/v1/batches/owned", b.tokens["admin"], "", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("admin: %d, want 200", resp.StatusCode)
	}
	if resp := b.do(t, "GET", "/v1/batches/owned", owner, "", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("owner: %d, want 200", resp.StatusCode)
	}
}
