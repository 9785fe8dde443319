package identity

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// pinnedNow is 00:30 on 15 June 2025 in Beijing but still 14 June in UTC, so
// the tests notice if the future-birth-date check uses the wrong time zone.
var pinnedNow = time.Date(2025, 6, 14, 16, 30, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	// Pinned once for the whole package, before any test runs, so that
	// parallel tests and fuzz workers read it without a race.
	now = func() time.Time { return pinnedNow }
	m.Run()
}

// idWithCheck completes 17 digits with their GB 11643 check character, so test
// ID numbers are valid by construction rather than copied from somewhere.
func idWithCheck(first17 string) string {
	return first17 + string(IDCheckDigit(first17))
}

// idWithWrongCheck completes 17 digits with a check character that does not
// match.
func idWithWrongCheck(first17 string) string {
	wrong := byte('0')
	if IDCheckDigit(first17) == wrong {
		wrong = '1'
	}
	return first17 + string(wrong)
}

// cardWithCheck completes a card number payload with its Luhn digit.
func cardWithCheck(payload string) string {
	return payload + string(LuhnCheckDigit(payload))
}

// knownReasons lists every reason each parser can give. Because the list is
// fixed, a message cannot carry the rejected value; the fuzz targets fail if a
// parser starts building reasons from its input.
var knownReasons = map[string][]string{
	FieldIDNumber: {reasonIDLength, reasonIDChars, reasonIDRegion, reasonIDDate, reasonIDBefore, reasonIDFuture, reasonIDCheck},
	FieldName: {reasonNameEmpty, reasonNameUTF8, reasonNameControl, reasonNameDigit, reasonNameLatin, reasonNameSpace,
		reasonNameOther, reasonNameDotEdge, reasonNameDotDouble, reasonNameShort, reasonNameLong},
	FieldPhone:    {reasonPhoneEmpty, reasonPhoneChars, reasonPhoneLength, reasonPhonePrefix},
	FieldBankCard: {reasonCardEmpty, reasonCardChars, reasonCardLength, reasonCardLuhn},
	FieldOrderNo:  {reasonOrderEmpty, reasonOrderLong, reasonOrderChars, reasonOrderIDNumber, reasonOrderPhone, reasonOrderCard},
}

// requireFieldError checks that err is a *FieldError for field, with reason
// unless reason is empty, and that its message does not repeat the input.
// Inputs shorter than 4 bytes are exempt: "1" or "ab" can occur in any
// message by coincidence.
func requireFieldError(t *testing.T, err error, field, reason, input string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want *FieldError", err, err)
	}
	if fe.Field != field {
		t.Errorf("Field = %q, want %q", fe.Field, field)
	}
	if reason != "" && fe.Reason != reason {
		t.Errorf("Reason = %q, want %q", fe.Reason, reason)
	}
	known := false
	for _, r := range knownReasons[field] {
		known = known || fe.Reason == r
	}
	if !known {
		t.Errorf("Reason %q is not one of the fixed reasons for %s", fe.Reason, field)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) = false")
	}
	msg := err.Error()
	for _, in := range []string{input, strings.TrimSpace(input)} {
		if len(in) >= 4 && strings.Contains(msg, in) {
			t.Errorf("error message %q contains the input", msg)
		}
	}
}
