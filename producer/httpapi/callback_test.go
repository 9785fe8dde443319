package httpapi_test

import (
	"bytes"
	"context"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/producer/httpapi"
)

// TestCallbackURLs: a verification's callbackUrl and a batch's are held to
// the producer's policy (here the strict default) and refused naming
// callbackUrl; a refused batch upload changes nothing, whether refused for
// its callbackUrl (400) or for its kind (409).
func TestCallbackURLs(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	tok := b.tokens["enqueue,read"]
	ctx := context.Background()

	for i, cb := range []string{"http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/", "https://127.0.0.1:6379/",
		"https://[::1]/x", "https://localhost/x", "http://hooks.example.com/x", "not-a-url", "https://u:p@hooks.example.com/x"} {
		req := request(b.stack.Entries[i], "idcard")
		req.CallbackURL = cb
		var eb httpapi.Error
		resp := b.do(t, "POST", "/v1/verifications", b.tokens["enqueue"], "application/json", jsonBody(req), nil, &eb)
		if resp.StatusCode != 422 || eb.Error.Field != "callbackUrl" || len(eb.Error.Fields) != 1 {
			t.Errorf("verification with callbackUrl %s: %d %+v, want 422 naming callbackUrl", cb, resp.StatusCode, eb)
		}
	}
	ok := request(b.stack.Entries[10], "idcard")
	ok.CallbackURL = "https://hooks.example.com/realname?token=t"
	if resp := b.do(t, "POST", "/v1/verifications", b.tokens["enqueue"], "application/json", jsonBody(ok), nil, nil); resp.StatusCode != 202 {
		t.Errorf("verification with a public https callbackUrl: %d", resp.StatusCode)
	}

	var csv bytes.Buffer
	if err := sample.WriteCSV(&csv, sample.Generate(5, 12)); err != nil {
		t.Fatal(err)
	}
	upload := func(query string, out any) int {
		t.Helper()
		return b.do(t, "POST", "/v1/batches?"+query, tok, "text/csv", bytes.NewReader(csv.Bytes()), nil, out).StatusCode
	}
	snapshot := func() map[string]string {
		t.Helper()
		m, err := b.rdb.HGetAll(ctx, "realname:batch:cb").Result()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := url.Values{"name": {"cb"}, "kind": {"idcard"}, "callbackUrl": {"https://hooks.example.com/first"}}
	var ans httpapi.BatchAnswer
	if code := upload(first.Encode(), &ans); code != 201 || ans.Batch.CallbackURL != "https://hooks.example.com/first" {
		t.Fatalf("upload: %d %+v", code, ans.Batch)
	}
	before := snapshot()

	var eb httpapi.Error
	wrongKind := url.Values{"name": {"cb"}, "kind": {"mobile3"}, "callbackUrl": {"https://attacker.example.com/second"}}
	if code := upload(wrongKind.Encode(), &eb); code != 409 || eb.Error.Code != "batch_conflict" {
		t.Errorf("wrong kind: %d %+v, want 409 batch_conflict", code, eb)
	}
	if after := snapshot(); !maps.Equal(before, after) {
		t.Errorf("the refused upload changed the batch:\nbefore %v\nafter  %v", before, after)
	}

	for _, cb := range []string{"not-a-url", "http://169.254.169.254/latest/meta-data/", "https://10.1.2.3/x", "http://hooks.example.com/x",
		"https://hooks.example.com/x#frag", "https://hooks.example.com/" + strings.Repeat("a", 2100)} {
		q := url.Values{"name": {"cb"}, "kind": {"idcard"}, "callbackUrl": {cb}}
		eb = httpapi.Error{}
		if code := upload(q.Encode(), &eb); code != 400 || eb.Error.Field != "callbackUrl" || !strings.Contains(eb.Error.Message, "callbackUrl") {
			t.Errorf("callbackUrl %.60s: %d %+v, want 400 naming callbackUrl", cb, code, eb)
		}
		if strings.Contains(eb.Error.Message, "/x") || strings.Contains(eb.Error.Message, "meta-data") {
			t.Errorf("the answer repeats the URL's path: %q", eb.Error.Message)
		}
		if after := snapshot(); !maps.Equal(before, after) {
			t.Errorf("callbackUrl %.60s: the refused upload changed the batch:\nbefore %v\nafter  %v", cb, before, after)
		}
	}
	q := url.Values{"name": {"cb-new"}, "kind": {"idcard"}, "callbackUrl": {"not-a-url"}}
	if code := upload(q.Encode(), nil); code != 400 {
		t.Errorf("a new batch with callbackUrl=not-a-url: %d, want 400", code)
	}
	if n, _ := b.rdb.Exists(ctx, "realname:batch:cb-new").Result(); n != 0 {
		t.Error("the refused upload created its batch")
	}
}
