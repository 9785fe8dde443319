package task

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/keyring"
)

// testCodec returns a codec on a key ring made for the test.
func testCodec(t testing.TB, ids ...string) *Codec {
	t.Helper()
	if len(ids) == 0 {
		ids = []string{"k1"}
	}
	var spec []string
	for _, id := range ids {
		e, err := keyring.Generate(id)
		if err != nil {
			t.Fatal(err)
		}
		spec = append(spec, e)
	}
	k, err := keyring.Parse(strings.Join(spec, ","))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCodec(k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

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
			c := testCodec(t)
			b, err := c.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range []string{"张三丰", "11010519491231002X", "13812345678", v.BankCard.Reveal()} {
				if strings.Contains(string(b), raw) {
					t.Fatalf("payload holds %s in clear", raw)
				}
			}
			got, err := c.Decode(JobID(v.OrderNo), b)
			if err != nil {
				t.Fatal(err)
			}
			if got != v {
				t.Fatalf("round trip: got %+v, want %+v", got, v)
			}
			m, err := DecodeMasked(b)
			if err != nil || m.Name != v.Name.Masked() || m.IDNumber != v.IDNumber.Masked() || m.KeyID != "k1" || m.OrderNo != "order-1" {
				t.Fatalf("masked view %+v, %v", m, err)
			}
			task, err := c.NewVerifyTask(v)
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
			_, err := testCodec(t).Encode(v)
			var fe *identity.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}

// TestDecodeRefuses: a payload opens only for its own job, intact, with
// its key in the ring; a missing key is named.
func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	c := testCodec(t, "k1")
	v := mustVerification(t, KindIDCard)
	b, err := c.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	// The same payload under another job's ID, its order number edited
	// to match: the seal is bound to the first job.
	moved := strings.Replace(string(b), `"orderNo":"order-1"`, `"orderNo":"order-2"`, 1)
	cases := []struct {
		name  string
		codec *Codec
		jobID string
		b     []byte
		want  error
	}{
		{"another job's ID", c, JobID("order-2"), b, ErrPayload},
		{"moved to another job", c, JobID("order-2"), []byte(moved), keyring.ErrOpen},
		{"key not in the ring", testCodec(t, "k2"), JobID(v.OrderNo), b, keyring.ErrUnknownKey},
		{"same key ID, other material", testCodec(t, "k1"), JobID(v.OrderNo), b, keyring.ErrOpen},
		{"not JSON", c, JobID(v.OrderNo), []byte("x"), ErrPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.codec.Decode(tc.jobID, tc.b)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrPayload) {
				t.Fatalf("Decode: %v, want %v (and ErrPayload)", err, tc.want)
			}
		})
	}
}

// TestDecodeVersion1: payloads queued before encryption (clear text) are
// still read, so that they drain after an upgrade, and show masked.
func TestDecodeVersion1(t *testing.T) {
	t.Parallel()
	v1 := `{"v":1,"kind":"idcard","orderNo":"old-1","name":"张三丰","idNumber":"11010519491231002X","enqueuedAt":1700000000123}`
	v, err := testCodec(t).Decode(JobID("old-1"), []byte(v1))
	if err != nil || v.Name.Reveal() != "张三丰" {
		t.Fatalf("version 1: %+v, %v", v, err)
	}
	m, err := DecodeMasked([]byte(v1))
	if err != nil || m.KeyID != "" || strings.Contains(m.Name+m.IDNumber, "三丰") || m.IDNumber == "" {
		t.Fatalf("version 1 masked: %+v, %v", m, err)
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
	c := testCodec(f)
	b, _ := c.Encode(mustVerification(f, KindBankCard4))
	f.Add(b)
	f.Add([]byte(`{"v":1,"kind":"idcard","orderNo":"order-1","name":"张三丰","idNumber":"11010519491231002X"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeMasked(b)
		v, err := c.Decode(JobID("order-1"), b)
		if err != nil {
			return
		}
		again, err := c.Encode(v)
		if err != nil {
			t.Fatalf("decoded payload does not encode: %v", err)
		}
		if v2, err := c.Decode(JobID("order-1"), again); err != nil || v2 != v {
			t.Fatalf("re-decode: %+v, %v", v2, err)
		}
	})
}

// The cost of encryption at rest, per payload: sealed (version 2) next to
// the clear form of version 1, same fields.
func BenchmarkEncode(b *testing.B) {
	c := testCodec(b)
	v := mustVerification(b, KindBankCard4)
	b.Run("sealed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Encode(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clear", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := clearPayload(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	c := testCodec(b)
	v := mustVerification(b, KindBankCard4)
	sealed, _ := c.Encode(v)
	clear, _ := clearPayload(v)
	id := JobID(v.OrderNo)
	for _, bc := range []struct {
		name string
		p    []byte
	}{{"sealed", sealed}, {"clear", clear}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode(id, bc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// clearPayload is the version 1 payload of v: its fields in clear.
func clearPayload(v Verification) ([]byte, error) {
	return json.Marshal(wireVerification{V: 1, Kind: v.Kind, OrderNo: string(v.OrderNo), CallbackURL: v.CallbackURL,
		Batch: v.Batch, BatchSeq: v.BatchSeq, EnqueuedAt: v.EnqueuedAt.UnixMilli(),
		Name: v.Name.Reveal(), IDNumber: v.IDNumber.Reveal(), Phone: v.Phone.Reveal(), BankCard: v.BankCard.Reveal()})
}
