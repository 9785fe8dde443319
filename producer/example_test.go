package producer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
)

// A signup backend enqueues a verification when a person signs up. The
// same order number enqueued again is the same job, so a retried HTTP
// request on the backend's side never pays twice.
func ExampleClient_Enqueue() {
	mr, _ := miniredis.Run() // any Redis; an embedded one keeps the example self-contained
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	codec, _ := task.NewCodec(keyring.Ephemeral())
	defer rdb.Close()

	client, err := producer.New(producer.Config{Redis: rdb, Codec: codec})
	if err != nil {
		panic(err)
	}
	defer client.Close()

	req := producer.Request{
		Kind:     producer.KindIDCard,
		OrderNo:  "signup-20261124-0001",
		Name:     "张三丰",
		IDNumber: "11010519491231002x", // normalised to upper-case X
	}
	job, err := client.Enqueue(context.Background(), req, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(job.ID, job.Queue, job.State, job.Duplicate)

	again, _ := client.Enqueue(context.Background(), req, nil)
	fmt.Println(again.ID, again.Duplicate)
	// Output:
	// vrf:signup-20261124-0001 signup pending false
	// vrf:signup-20261124-0001 true
}

// Bad input is refused before anything is enqueued, with an error naming
// each field; the value itself is never quoted.
func ExampleValidate() {
	_, err := producer.Validate(producer.Request{
		Kind:     producer.KindMobile3,
		OrderNo:  "o-1",
		Name:     "张三丰",
		IDNumber: "110105194912310021", // wrong check digit
	})
	var fe *producer.FieldError
	fmt.Println(errors.Is(err, producer.ErrInvalid), errors.As(err, &fe), fe.Field)
	fmt.Println(err)
	// Output:
	// true true idNumber
	// idNumber: check digit does not match
	// phoneNumber: must not be empty
}
