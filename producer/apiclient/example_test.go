package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/demo"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/producer/apiclient"
	"github.com/realname-io/realname/producer/httpapi"
	"github.com/realname-io/realname/worker"
)

// startServer runs a realname API server and a worker against the sandbox
// on an embedded Redis, and returns its URL and an API key: what a backend
// would have in production.
func startServer() (url, key string, stop func()) {
	mr, _ := miniredis.Run()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	codec, _ := task.NewCodec(keyring.Ephemeral())
	results, _ := store.NewRedis(rdb, store.RedisConfig{})
	prod, _ := producer.New(producer.Config{Redis: rdb, Store: results, Codec: codec})
	api, _ := httpapi.New(httpapi.Config{Redis: rdb, Producer: prod, Store: results})
	srv := httptest.NewServer(api)
	stack, _ := demo.NewStack(demo.StackConfig{N: 1})
	provider, _ := stack.Client(tencentv2.Config{})
	w, _ := worker.New(worker.Config{Redis: rdb, Provider: provider, Store: results, Codec: codec, PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	_, key, _ = apikey.New(rdb).Create(context.Background(), "example", []apikey.Scope{apikey.ScopeEnqueue, apikey.ScopeRead})
	return srv.URL, key, func() {
		cancel()
		<-done
		srv.Close()
		stack.Close()
		prod.Close()
		rdb.Close()
		mr.Close()
	}
}

// A backend verifies a person at signup and waits up to ten seconds for
// the answer; the identity comes back masked.
func ExampleClient_CreateVerification() {
	url, key, stop := startServer()
	defer stop()

	c := apiclient.New(url, key)
	v, err := c.CreateVerification(context.Background(), apiclient.VerificationRequest{
		Kind:     "idcard",
		OrderNo:  "signup-20261124-0001",
		Name:     "张三丰",
		IDNumber: "11010519491231002X",
	}, &apiclient.CreateOpts{Wait: 10 * time.Second, IdempotencyKey: "form-7f3a"})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Job.ID, v.Job.State, v.Result.Class, v.Result.Identity.IDNumber)

	// Bad input names the field, and never echoes the value.
	_, err = c.CreateVerification(context.Background(), apiclient.VerificationRequest{
		Kind: "idcard", OrderNo: "signup-20261124-0002", Name: "张三丰", IDNumber: "110105194912310021",
	}, nil)
	var apiErr *apiclient.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code, apiErr.Field, strings.Contains(err.Error(), "110105194912310021"))
	}
	// Output:
	// vrf:signup-20261124-0001 completed match 110105********002X
	// 422 invalid_field idNumber false
}
