package sandbox

import (
	"encoding/binary"
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/realname-io/realname/internal/identity"
)

// The four 实名认证 actions the sandbox answers, spelled as the gateway spells
// them (BspBankCard3Auth but BspBankCardAuth4).
const (
	ActionIDCardAuth    = "BspIdCardAuth"
	ActionMobileAuth3   = "BspMobileAuth3"
	ActionBankCard3Auth = "BspBankCard3Auth"
	ActionBankCardAuth4 = "BspBankCardAuth4"
)

// actions lists the actions in the order of fixtureRecord.codes.
var actions = [...]string{ActionIDCardAuth, ActionMobileAuth3, ActionBankCard3Auth, ActionBankCardAuth4}

// actionIndex returns the position of action in actions, or -1.
func actionIndex(action string) int {
	for i, a := range actions {
		if a == action {
			return i
		}
	}
	return -1
}

// actionUses reports which optional fields an action checks besides the name
// and the ID number.
func actionUses(action string) (phone, card bool) {
	switch action {
	case ActionMobileAuth3:
		return true, false
	case ActionBankCard3Auth:
		return false, true
	case ActionBankCardAuth4:
		return true, true
	}
	return false, false
}

// Business parameter names, as the gateway spells them.
const (
	paramOrderNo  = "orderNo"
	paramName     = "name"
	paramIDNumber = "idNumber"
	paramPhone    = "phoneNumber"
	paramBankCard = "bankCardNumber"
)

// Params are the identity fields of one verification request. An action reads
// only the fields it checks: the name and ID number always, Phone for
// BspMobileAuth3 and BspBankCardAuth4, BankCard for BspBankCard3Auth and
// BspBankCardAuth4.
type Params struct {
	Name     string
	IDNumber string
	Phone    string
	BankCard string
}

// normalize returns p with the spellings the gateway treats as equal made
// equal: a lower-case check character x in the ID number, and a +86 / 0086
// prefix on the mobile number (the guide's own example sends 0086-…).
func normalize(p Params) Params {
	if n := len(p.IDNumber); n > 0 && p.IDNumber[n-1] == 'x' {
		p.IDNumber = p.IDNumber[:n-1] + "X"
	}
	p.Phone = normalizePhone(p.Phone)
	return p
}

func normalizePhone(s string) string {
	for _, prefix := range [...]string{"0086-", "+86-", "0086", "+86"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok && len(rest) == 11 {
			return rest
		}
	}
	return s
}

// authMessages is the guide's 错误码 table, plus 00.
var authMessages = map[string]string{
	"00": "认证通过",
	"01": "姓名校验不通过",
	"03": "银行卡号码有误",
	"05": "数据校验不通过",
	"06": "持卡人信息有误",
	"07": "未开通无卡支付",
	"09": "此卡被没收",
	"10": "请求条件有缺失，请确认是否遗漏",
	"12": "无效卡号",
	"13": "此卡无对应发卡行",
	"14": "该卡未初始化或睡眠卡",
	"15": "作弊卡、吞卡",
	"16": "此卡已挂失",
	"17": "该卡已过期",
	"18": "受限制的卡",
	"19": "密码错误次数超限",
	"23": "发卡行不支持此交易",
	"98": "认证未通过",
	"99": "参数错误",
}

// authCodeList numbers the known authCodes so that a fixture record stores
// each answer in a byte; index 0 of fixtureRecord.codes means "not given".
var authCodeList = []string{"00", "01", "03", "05", "06", "07", "09", "10", "12", "13", "14", "15", "16", "17", "18", "19", "23", "98", "99"}

// AuthMessage returns the guide's Chinese message for an authCode ("00" →
// 认证通过, "01" → 姓名校验不通过, …), or "" for a code the guide does not
// list.
func AuthMessage(code string) string { return authMessages[code] }

// expectedFailures are the non-passing answers Expected spreads unknown
// identities over: the answers each action can meaningfully give.
var expectedFailures = map[string][]string{
	ActionIDCardAuth:    {"01", "05", "98"},
	ActionMobileAuth3:   {"01", "05", "98"},
	ActionBankCard3Auth: {"01", "03", "05", "06", "12", "14", "16", "17"},
	ActionBankCardAuth4: {"01", "03", "05", "06", "12", "14", "16", "17"},
}

// expectedPassPercent is the share of unknown identities that pass.
const expectedPassPercent = 80

// Expected returns the authCode the sandbox gives an identity its fixture
// does not know. It is a pure function of the action and the fields the
// action checks, so tests and benchmarks can predict every answer: a bank
// card that fails the Luhn check gets "12"; otherwise an FNV-1a hash sends
// about 80% of identities to "00" and spreads the rest evenly over the
// action's failure codes (01, 05, 98 for the ID card and mobile actions; 01,
// 03, 05, 06, 12, 14, 16, 17 for the bank card actions). It returns "" for an
// unknown action.
func Expected(action string, p Params) string {
	failures, ok := expectedFailures[action]
	if !ok {
		return ""
	}
	p = normalize(p)
	if _, card := actionUses(action); card && !identity.LuhnValid(p.BankCard) {
		return "12"
	}
	v := hashIdentity(action, p.Name, p)
	if v%100 < expectedPassPercent {
		return "00"
	}
	return failures[(v/100)%uint64(len(failures))]
}

// hashIdentity is the FNV-64a hash of an action, the name given and the
// other fields the action checks, each with a length prefix so that
// ("ab","c") and ("a","bc") differ.
func hashIdentity(action, name string, p Params) uint64 {
	phone, card := actionUses(action)
	h := fnv.New64a()
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(action)
	field(name)
	field(p.IDNumber)
	if phone {
		field(p.Phone)
	}
	if card {
		field(p.BankCard)
	}
	return h.Sum64()
}

// Limits of the sandbox's own parameter checks. The gateway's limits are not
// published; these are generous guesses, because the sandbox should refuse
// what is clearly broken and leave finer validation to the caller.
const (
	maxOrderNoBytes = 64
	maxNameRunes    = 64
	minCardDigits   = 12
	maxCardDigits   = 19
)

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func noControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// The validators take normalised values and return the reason a value is
// refused, or "" when it is acceptable. Reasons never quote the value.

func checkOrderNo(s string) string {
	switch {
	case len(s) > maxOrderNoBytes:
		return "must be at most 64 bytes"
	case !utf8.ValidString(s) || !noControl(s):
		return "must be printable UTF-8"
	}
	return ""
}

func checkName(s string) string {
	switch {
	case !utf8.ValidString(s) || !noControl(s):
		return "must be printable UTF-8"
	case utf8.RuneCountInString(s) > maxNameRunes:
		return "is too long"
	}
	return ""
}

func checkIDNumber(s string) string {
	if len(s) != 18 || !allDigits(s[:17]) || (s[17] != 'X' && !allDigits(s[17:])) {
		return "must be 17 digits followed by a digit or X"
	}
	if identity.IDCheckDigit(s[:17]) != s[17] {
		return "check digit does not match"
	}
	return ""
}

func checkPhone(s string) string {
	if len(s) != 11 || s[0] != '1' || !allDigits(s) {
		return "must be an 11-digit mainland mobile number"
	}
	return ""
}

func checkBankCard(s string) string {
	if len(s) < minCardDigits || len(s) > maxCardDigits || !allDigits(s) {
		return "must be 12 to 19 digits"
	}
	return ""
}
