package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// FixtureEntry is one line of a fixture file: an identity and the authCode
// each action answers for it, e.g.
//
//	{"name":"张三","idNumber":"…","phoneNumber":"…","bankCardNumber":"…","authCodes":{"BspIdCardAuth":"00","BspMobileAuth3":"98"}}
//
// Phone and BankCard may be empty when no action that checks them is listed.
type FixtureEntry struct {
	Name      string            `json:"name"`
	IDNumber  string            `json:"idNumber"`
	Phone     string            `json:"phoneNumber,omitempty"`
	BankCard  string            `json:"bankCardNumber,omitempty"`
	AuthCodes map[string]string `json:"authCodes"`
}

// Fixture is a set of known identities with scripted answers, loaded by
// LoadFixture. A nil *Fixture knows nobody. It is read-only once loaded and
// safe for concurrent use.
type Fixture struct {
	byID map[[18]byte]fixtureRecord
}

// fixtureRecord is kept small because a fixture may hold a million
// identities (about 170 MB then): the ID number is the map key, the name,
// phone and card share one string, and each answer is an index into
// authCodeList.
type fixtureRecord struct {
	data     string // name + phone + card
	nameEnd  uint16
	phoneEnd uint16
	line     uint32
	codes    [len(actions)]uint8
}

func (r *fixtureRecord) name() string  { return r.data[:r.nameEnd] }
func (r *fixtureRecord) phone() string { return r.data[r.nameEnd:r.phoneEnd] }
func (r *fixtureRecord) card() string  { return r.data[r.phoneEnd:] }

// maxFixtureLine bounds one fixture line.
const maxFixtureLine = 64 << 10

// LoadFixture reads a fixture in JSON Lines, one FixtureEntry a line; blank
// lines are skipped. Every entry is checked (a valid 18-character ID number,
// a name, well-formed phone and card numbers, known actions and authCodes,
// no unknown fields, no ID number twice) and an error names the line number
// and the field, never the value.
func LoadFixture(r io.Reader) (*Fixture, error) {
	f := &Fixture{byID: make(map[[18]byte]fixtureRecord)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxFixtureLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := f.add(b, line); err != nil {
			return nil, fmt.Errorf("sandbox: fixture line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("sandbox: fixture line %d: longer than %d bytes", line+1, maxFixtureLine)
		}
		return nil, fmt.Errorf("sandbox: reading fixture after line %d: %w", line, err)
	}
	return f, nil
}

func (f *Fixture) add(b []byte, line int) error {
	var e FixtureEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return errors.New("not a fixture entry: " + jsonErrorWithoutValue(err))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	p := normalize(Params{Name: e.Name, IDNumber: e.IDNumber, Phone: e.Phone, BankCard: e.BankCard})
	if p.Name == "" {
		return errors.New("name is missing")
	}
	if why := checkName(p.Name); why != "" {
		return errors.New("name " + why)
	}
	if why := checkIDNumber(p.IDNumber); why != "" {
		return errors.New("idNumber " + why)
	}
	if p.Phone != "" {
		if why := checkPhone(p.Phone); why != "" {
			return errors.New("phoneNumber " + why)
		}
	}
	if p.BankCard != "" {
		if why := checkBankCard(p.BankCard); why != "" {
			return errors.New("bankCardNumber " + why)
		}
	}
	rec := fixtureRecord{
		data:     p.Name + p.Phone + p.BankCard,
		nameEnd:  uint16(len(p.Name)),
		phoneEnd: uint16(len(p.Name) + len(p.Phone)),
		line:     uint32(line),
	}
	// Sorted so that the error for an entry with several bad actions does
	// not depend on map order.
	names := make([]string, 0, len(e.AuthCodes))
	for a := range e.AuthCodes {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		code := e.AuthCodes[a]
		i := actionIndex(a)
		if i < 0 {
			return fmt.Errorf("authCodes: unknown action %q", truncate(a, 40))
		}
		c := codeIndex(code)
		if c == 0 {
			return fmt.Errorf("authCodes: %s: unknown authCode %q", a, truncate(code, 8))
		}
		phone, card := actionUses(a)
		if phone && p.Phone == "" {
			return fmt.Errorf("authCodes: %s needs phoneNumber", a)
		}
		if card && p.BankCard == "" {
			return fmt.Errorf("authCodes: %s needs bankCardNumber", a)
		}
		rec.codes[i] = c
	}
	key := [18]byte([]byte(p.IDNumber))
	if prev, dup := f.byID[key]; dup {
		return fmt.Errorf("idNumber repeats line %d", prev.line)
	}
	f.byID[key] = rec
	return nil
}

// jsonErrorWithoutValue describes a decoding error without the input it
// choked on: encoding/json quotes offending values in some messages.
func jsonErrorWithoutValue(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("JSON syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s must be a JSON %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	// DisallowUnknownFields reports `json: unknown field "x"`: a field
	// name, not a value.
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return strings.TrimPrefix(msg, "json: ")
	}
	return "invalid JSON"
}

func codeIndex(code string) uint8 {
	for i, c := range authCodeList {
		if c == code {
			return uint8(i + 1)
		}
	}
	return 0
}

// Len returns the number of identities in f.
func (f *Fixture) Len() int {
	if f == nil {
		return 0
	}
	return len(f.byID)
}

// Lookup returns the fixture's answer for an action on p, and false when the
// fixture does not know the identity (the sandbox then answers Expected).
// The identity is found by its ID number (a lower-case x matches X); then:
//   - a different name answers "01" (姓名校验不通过);
//   - for the card actions, a different bank card answers "06"
//     (持卡人信息有误);
//   - a different mobile number answers "98" (认证未通过) for BspMobileAuth3
//     and "06" for BspBankCardAuth4;
//   - otherwise the entry's authCode for the action.
//
// An entry without the phone, card or authCode an action needs does not know
// the answer, and Lookup returns false.
func (f *Fixture) Lookup(action string, p Params) (code string, ok bool) {
	i := actionIndex(action)
	if f == nil || i < 0 {
		return "", false
	}
	p = normalize(p)
	if len(p.IDNumber) != 18 {
		return "", false
	}
	rec, found := f.byID[[18]byte([]byte(p.IDNumber))]
	if !found {
		return "", false
	}
	if rec.name() != p.Name {
		return "01", true
	}
	phone, card := actionUses(action)
	if card {
		if rec.card() == "" {
			return "", false
		}
		if rec.card() != p.BankCard {
			return "06", true
		}
	}
	if phone {
		if rec.phone() == "" {
			return "", false
		}
		if rec.phone() != p.Phone {
			if action == ActionMobileAuth3 {
				return "98", true
			}
			return "06", true
		}
	}
	if rec.codes[i] == 0 {
		return "", false
	}
	return authCodeList[rec.codes[i]-1], true
}

// truncate shortens s to at most n bytes for an error or log message, without
// splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
