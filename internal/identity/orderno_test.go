package identity

import (
	"strings"
	"testing"
)

func TestParseOrderNo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want OrderNo
	}{
		{name: "one character", in: "A", want: "A"},
		{name: "every allowed kind", in: "Order_2025-06.15:a9Z", want: "Order_2025-06.15:a9Z"},
		{name: "uuid", in: "0b7e8f1c-2b1e-4c55-9a43-3b9d5c1e0f11", want: "0b7e8f1c-2b1e-4c55-9a43-3b9d5c1e0f11"},
		{name: "64 characters", in: strings.Repeat("a", 64), want: OrderNo(strings.Repeat("a", 64))},
		{name: "surrounding white space", in: " \tORD1\n", want: "ORD1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOrderNo(tc.in)
			if err != nil {
				t.Fatalf("ParseOrderNo: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			// Not personal data: printing shows it unchanged.
			if got.String() != string(tc.want) {
				t.Errorf("String() = %q, want %q", got.String(), tc.want)
			}
		})
	}
}

func TestParseOrderNoInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		reason string
	}{
		{name: "empty", in: "", reason: reasonOrderEmpty},
		{name: "blank", in: " \t ", reason: reasonOrderEmpty},
		{name: "65 characters", in: strings.Repeat("a", 65), reason: reasonOrderLong},
		{name: "inner space", in: "ORD 1", reason: reasonOrderChars},
		{name: "slash", in: "ORD/1", reason: reasonOrderChars},
		{name: "newline inside", in: "ORD\n1", reason: reasonOrderChars},
		{name: "Han characters", in: "订单号一", reason: reasonOrderChars},
		{name: "long Han characters", in: strings.Repeat("订", 30), reason: reasonOrderChars},
		{name: "percent", in: "ORD%201", reason: reasonOrderChars},
		{name: "a resident ID number", in: "11010519491231002X", reason: reasonOrderIDNumber},
		{name: "a resident ID number, lower-case x", in: "11010519491231002x", reason: reasonOrderIDNumber},
		{name: "an ID number as a segment", in: "signup-11010519491231002X", reason: reasonOrderIDNumber},
		{name: "a mobile number", in: "13812345678", reason: reasonOrderPhone},
		{name: "a mobile number as a segment", in: "user:13812345678:1", reason: reasonOrderPhone},
		{name: "a card number", in: "6222021234567890128", reason: reasonOrderCard},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOrderNo(tc.in)
			if err == nil {
				t.Fatalf("ParseOrderNo = %q, want error", got)
			}
			requireFieldError(t, err, FieldOrderNo, tc.reason, tc.in)
		})
	}
}
