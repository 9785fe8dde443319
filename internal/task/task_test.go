package task

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/identity"
)

func mustVerification(t testing.TB, kind Kind) Verification {
	t.Helper()
	card := "622202123456789012"
	card += string(identity.LuhnCheckDigit(card))
	name, err1 := identity.ParseName("张三丰")
	id, err2 := identity.ParseIDNumber("11010519491231002x")
	phone, err3 := identity.ParsePhone("+86 138 1234 5678")
	bc, err4 := identity.ParseBankCard(card)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return Verification{Kind: kind, OrderNo: "order-1", Name: name, IDNumber: id, Phone: phone, BankCard: bc,
		CallbackURL: "http://127.0.0.1:9/hook", Batch: "b1", EnqueuedAt: time.UnixMilli(1700000000123)}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			v := mustVerification(t, k)
			b, err := EncodeVerification(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeVerification(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != v {
				t.Fatalf("round trip: got %+v, want %+v", got, v)
			}
			task, err := NewVerifyTask(v)
			if err != nil {
				t.Fatal(err)
			}
			if task.Type() != TaskType(k) {
				t.Fatalf("type %s, want %s", task.Type(), TaskType(k))
			}
		})
	}
}

func TestValidateNamesMissingField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*Verification)
		field string
	}{
		{"no kind", func(v *Verification) { v.Kind = "" }, "kind"},
		{"no order", func(v *Verification) { v.OrderNo = "" }, identity.FieldOrderNo},
		{"no name", func(v *Verification) { v.Name = "" }, identity.FieldName},
		{"no id", func(v *Verification) { v.IDNumber = "" }, identity.FieldIDNumber},
		{"mobile3 without phone", func(v *Verification) { v.Kind, v.Phone = KindMobile3, "" }, identity.FieldPhone},
		{"bankcard3 without card", func(v *Verification) { v.Kind, v.BankCard = KindBankCard3, "" }, identity.FieldBankCard},
		{"bankcard4 without phone", func(v *Verification) { v.Kind, v.Phone = KindBankCard4, "" }, identity.FieldPhone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustVerification(t, KindIDCard)
			tc.edit(&v)
			_, err := EncodeVerification(v)
			var fe *identity.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}

func TestDecodeRejectsTamperedPayload(t *testing.T) {
	t.Parallel()
	b, err := EncodeVerification(mustVerification(t, KindIDCard))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), "11010519491231002X", "110105194912310021", 1)
	_, err = DecodeVerification([]byte(bad))
	if !errors.Is(err, ErrPayload) || strings.Contains(err.Error(), "110105194912310021") {
		t.Fatalf("err = %v, want ErrPayload without the value", err)
	}
}

func TestJobIDs(t *testing.T) {
	t.Parallel()
	id := JobID("A-1")
	if o, ok := OrderNoOf(id); !ok || o != "A-1" {
		t.Fatalf("OrderNoOf(%s) = %s, %v", id, o, ok)
	}
	if WebhookID(id) == id {
		t.Fatal("webhook task ID equals the job ID")
	}
}

func FuzzDecodeVerification(f *testing.F) {
	b, _ := EncodeVerification(mustVerification(f, KindBankCard4))
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVerification(b)
		if err != nil {
			return
		}
		again, err := EncodeVerification(v)
		if err != nil {
			t.Fatalf("decoded payload does not encode: %v", err)
		}
		if v2, err := DecodeVerification(again); err != nil || v2 != v {
			t.Fatalf("re-decode: %+v, %v", v2, err)
		}
	})
}
