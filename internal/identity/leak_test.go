package identity

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// personal is what every personal data type provides.
type personal interface {
	fmt.Stringer
	Reveal() string
	Masked() string
}

// subject holds one value of each personal type, as a payload or a log
// context would.
type subject struct {
	Name     Name     `json:"name"`
	IDNumber IDNumber `json:"idNumber"`
	Phone    Phone    `json:"phoneNumber"`
	BankCard BankCard `json:"bankCardNumber"`
	OrderNo  OrderNo  `json:"orderNo"`
}

func testSubject() subject {
	return subject{
		Name:     "阿依古丽·买买提",
		IDNumber: IDNumber(idWithCheck("65010219800101001")),
		Phone:    "13812345678",
		BankCard: BankCard(cardWithCheck("622202123456789012")),
		OrderNo:  "ORD-2025-0001",
	}
}

func (s subject) personal() []personal {
	return []personal{s.Name, s.IDNumber, s.Phone, s.BankCard}
}

// requireNoLeak fails if out contains any raw value of s, as text or as hex.
func requireNoLeak(t *testing.T, out string, s subject) {
	t.Helper()
	for _, p := range s.personal() {
		raw := p.Reveal()
		if strings.Contains(out, raw) {
			t.Errorf("output contains the raw %T: %s", p, out)
		}
		if strings.Contains(strings.ToLower(out), hex.EncodeToString([]byte(raw))) {
			t.Errorf("output contains the raw %T in hex: %s", p, out)
		}
	}
}

func TestFormatMasks(t *testing.T) {
	t.Parallel()
	s := testSubject()
	for _, p := range s.personal() {
		t.Run(fmt.Sprintf("%T", p), func(t *testing.T) {
			t.Parallel()
			m := p.Masked()
			typeName := strings.TrimPrefix(fmt.Sprintf("%T", p), "identity.")
			cases := []struct {
				format string
				want   string
			}{
				{format: "%v", want: m},
				{format: "%s", want: m},
				{format: "%+v", want: m},
				{format: "%q", want: strconv.Quote(m)},
				{format: "%#v", want: "identity." + typeName + "(" + strconv.Quote(m) + ")"},
				{format: "%x", want: hex.EncodeToString([]byte(m))},
				{format: "%X", want: strings.ToUpper(hex.EncodeToString([]byte(m)))},
				{format: "%30s", want: fmt.Sprintf("%30s", m)},
				{format: "%.3s", want: fmt.Sprintf("%.3s", m)},
				// A verb that does not fit a string still reports the mask.
				{format: "%d", want: "%!d(string=" + m + ")"},
			}
			for _, tc := range cases {
				got := fmt.Sprintf(tc.format, p)
				if got != tc.want {
					t.Errorf("Sprintf(%q) = %q, want %q", tc.format, got, tc.want)
				}
				requireNoLeak(t, got, s)
			}
			for _, got := range []string{p.String(), fmt.Sprint(p), fmt.Sprintln(p)} {
				requireNoLeak(t, got, s)
			}
			text, err := p.(interface{ MarshalText() ([]byte, error) }).MarshalText()
			if err != nil || string(text) != m {
				t.Errorf("MarshalText() = %q, %v; want %q", text, err, m)
			}
			j, err := json.Marshal(p)
			if err != nil || string(j) != strconv.Quote(m) {
				t.Errorf("json.Marshal = %s, %v; want %q", j, err, m)
			}
		})
	}
}

func TestFormatMasksContainers(t *testing.T) {
	t.Parallel()
	s := testSubject()
	outs := map[string]string{
		"%v struct":   fmt.Sprintf("%v", s),
		"%+v struct":  fmt.Sprintf("%+v", s),
		"%#v struct":  fmt.Sprintf("%#v", s),
		"%v pointer":  fmt.Sprintf("%v", &s),
		"%x struct":   fmt.Sprintf("%x", s),
		"%v slice":    fmt.Sprintf("%v", []Name{s.Name, s.Name}),
		"%v map":      fmt.Sprintf("%v", map[string]IDNumber{"id": s.IDNumber}),
		"%v map key":  fmt.Sprintf("%v", map[Phone]int{s.Phone: 1}),
		"%v any":      fmt.Sprintf("%v", []any{s.BankCard, &s.BankCard}),
		"Sprint":      fmt.Sprint(s.Name, s.IDNumber, s.Phone, s.BankCard),
		"Errorf wrap": fmt.Errorf("verifying %v: %w", s.IDNumber, ErrInvalid).Error(),
	}
	for name, out := range outs {
		requireNoLeak(t, out, s)
		// "2a2a" is "**" under %x.
		if !strings.Contains(out, "*") && !strings.Contains(out, "2a2a") {
			t.Errorf("%s: no mask in %q", name, out)
		}
	}

	j, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	requireNoLeak(t, string(j), s)
	want := fmt.Sprintf(`{"name":%q,"idNumber":%q,"phoneNumber":%q,"bankCardNumber":%q,"orderNo":%q}`,
		s.Name.Masked(), s.IDNumber.Masked(), s.Phone.Masked(), s.BankCard.Masked(), s.OrderNo)
	if string(j) != want {
		t.Errorf("json.Marshal = %s, want %s", j, want)
	}
}

func TestZerologMasks(t *testing.T) {
	t.Parallel()
	s := testSubject()
	var buf bytes.Buffer
	log := zerolog.New(io.MultiWriter(&buf, zerolog.NewTestWriter(t)))

	for _, p := range s.personal() {
		log.Info().Interface("v", p).Msg("Interface")
		log.Info().Stringer("v", p).Msg("Stringer")
		log.Info().Str("v", p.String()).Msg("Str")
		log.Info().Any("v", p).Msg("Any")
		log.Info().Fields(map[string]any{"v": p}).Msg("Fields map")
		log.Info().Fields([]any{"v", p}).Msg("Fields slice")
		log.Info().Msgf("Msgf %v %s %+v %x", p, p, p, p)
		log.Print(p)
		ctxLog := log.With().Interface("v", p).Stringer("w", p).Logger()
		ctxLog.Info().Msg("context")
	}
	log.Info().Interface("subject", s).Msg("struct")
	log.Info().Any("subject", &s).Msg("struct pointer")
	log.Info().Msgf("struct %+v", s)
	log.Info().Interface("names", []Name{s.Name}).Msg("slice")

	out := buf.String()
	requireNoLeak(t, out, s)
	// Guard against a vacuous pass: the masked forms and the unmasked order
	// number must have been written.
	for _, want := range []string{s.Name.Masked(), s.IDNumber.Masked(), s.Phone.Masked(), s.BankCard.Masked(), string(s.OrderNo)} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q", want)
		}
	}
}
