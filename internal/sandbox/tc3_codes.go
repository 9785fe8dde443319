package sandbox

// The four Tencent API 3.0 faceid actions the sandbox answers.
const (
	ActionIDCardVerification     = "IdCardVerification"
	ActionPhoneVerification      = "PhoneVerification"
	ActionBankCardVerification   = "BankCardVerification"
	ActionBankCard4EVerification = "BankCard4EVerification"
)

// tc3Kinds gives the kind (the v2 action) each v3 action checks.
var tc3Kinds = map[string]string{
	ActionIDCardVerification:     ActionIDCardAuth,
	ActionPhoneVerification:      ActionMobileAuth3,
	ActionBankCardVerification:   ActionBankCard3Auth,
	ActionBankCard4EVerification: ActionBankCardAuth4,
}

// tc3Code is one Result code of a v3 action.
type tc3Code struct {
	desc   string
	billed bool
}

// tc3Results is every Result code of the four actions, with its Description
// and whether Tencent bills it (收费), from Tencent's API reference and the
// official SDK's models.go. The numbering differs between the actions (-5 is
// "cardholder information wrong" for BankCardVerification and "invalid
// phone" for BankCard4EVerification), hence one table per action.
var tc3Results = map[string]map[string]tc3Code{
	ActionIDCardVerification: {
		"0":  {"姓名和身份证号一致", true},
		"-1": {"姓名和身份证号不一致", true},
		"-2": {"非法身份证号（长度、校验位等不正确）", false},
		"-3": {"非法姓名（长度、格式等不正确）", false},
		"-4": {"证件库服务异常", false},
		"-5": {"证件库中无此身份证记录", false},
		"-6": {"权威比对系统升级中，请稍后再试", false},
		"-7": {"认证次数超过当日限制", false},
	},
	ActionPhoneVerification: {
		"0":   {"认证通过", true},
		"-4":  {"三要素信息不一致", true},
		"-6":  {"手机号码不合法", false},
		"-7":  {"身份证号码有误", false},
		"-8":  {"姓名校验不通过", false},
		"-9":  {"没有记录", false},
		"-11": {"验证中心服务繁忙", false},
		"-12": {"认证次数超过当日限制", false},
		"-13": {"手机号码号段暂不支持核验", false},
	},
	ActionBankCardVerification: {
		"0":   {"认证通过", true},
		"-1":  {"认证未通过", true},
		"-2":  {"姓名校验不通过", false},
		"-3":  {"身份证号码有误", false},
		"-4":  {"银行卡号码有误", false},
		"-5":  {"持卡人信息有误", true},
		"-6":  {"未开通无卡支付", true},
		"-7":  {"此卡被没收", true},
		"-8":  {"无效卡号", true},
		"-9":  {"此卡无对应发卡行", true},
		"-10": {"该卡未初始化或睡眠卡", true},
		"-11": {"作弊卡、吞卡", true},
		"-12": {"此卡已挂失", true},
		"-13": {"该卡已过期", true},
		"-14": {"受限制的卡", true},
		"-15": {"密码错误次数超限", true},
		"-16": {"发卡行不支持此交易", true},
		"-17": {"验证中心服务繁忙", false},
		"-18": {"验证次数超限，请次日重试", false},
		"-19": {"该证件号暂不支持核验，当前仅支持二代身份证", false},
		"-20": {"卡状态异常或卡号错误", true},
	},
	ActionBankCard4EVerification: {
		"0":   {"认证通过", true},
		"-1":  {"认证未通过", true},
		"-2":  {"姓名校验不通过", false},
		"-3":  {"身份证号码有误", false},
		"-4":  {"银行卡号码有误", false},
		"-5":  {"手机号码不合法", false},
		"-6":  {"持卡人信息有误", true},
		"-7":  {"未开通无卡支付", true},
		"-8":  {"此卡被没收", true},
		"-9":  {"无效卡号", true},
		"-10": {"此卡无对应发卡行", true},
		"-11": {"该卡未初始化或睡眠卡", true},
		"-12": {"作弊卡、吞卡", true},
		"-13": {"此卡已挂失", true},
		"-14": {"该卡已过期", true},
		"-15": {"受限制的卡", true},
		"-16": {"密码错误次数超限", true},
		"-17": {"发卡行不支持此交易", true},
		"-18": {"验证中心服务繁忙", false},
		"-19": {"验证次数超限，请次日重试", false},
		"-20": {"该证件号暂不支持核验，当前仅支持二代身份证", false},
		"-21": {"卡状态异常或卡号错误", true},
	},
}

// tc3FromV2 is the translation table of Tencent v3: for each action, the
// Result that carries the meaning of each v2 authCode.
//
//   - 00 passes: "0".
//   - 01 (name fails), 05 (data check fails), 98 (not passed) are
//     mismatches: IdCard "-1", Phone "-4", both bank actions "-1".
//   - The card codes keep their meaning in the bank actions, whose v3 codes
//     list the same UnionPay reasons: 03 → "银行卡号码有误", 06 → "持卡人信息有误",
//     07, 09, 12 (also a card failing Luhn), 13, 14, 15, 16, 17, 18, 19, 23
//     → the code of the same text. The ID card and phone checks have no card,
//     so a card code scripted for them reads as a mismatch.
//   - 10 (request incomplete) and 99 (parameter error) become the
//     action's not-billed "invalid ID number" answer.
var tc3FromV2 = map[string]map[string]string{
	ActionIDCardVerification: mismatchAll("-1", map[string]string{
		"00": "0", "10": "-2", "99": "-2",
	}),
	ActionPhoneVerification: mismatchAll("-4", map[string]string{
		"00": "0", "10": "-7", "99": "-7",
	}),
	ActionBankCardVerification: {
		"00": "0", "01": "-1", "05": "-1", "98": "-1",
		"03": "-4", "06": "-5", "07": "-6", "09": "-7", "12": "-8", "13": "-9",
		"14": "-10", "15": "-11", "16": "-12", "17": "-13", "18": "-14", "19": "-15", "23": "-16",
		"10": "-3", "99": "-3",
	},
	ActionBankCard4EVerification: {
		"00": "0", "01": "-1", "05": "-1", "98": "-1",
		"03": "-4", "06": "-6", "07": "-7", "09": "-8", "12": "-9", "13": "-10",
		"14": "-11", "15": "-12", "16": "-13", "17": "-14", "18": "-15", "19": "-16", "23": "-17",
		"10": "-3", "99": "-3",
	},
}

// tc3PhoneDetail is PhoneVerification's ResultDetail (VerifyMode "1") for
// each mismatching v2 authCode; any other mismatch is OtherMismatch. It
// agrees with Alibaba Cloud's Mobile3MetaDetailVerify SubCode.
var tc3PhoneDetail = map[string]string{
	"01": "PhoneNameMismatch",       // the name fails: phone and ID agree
	"98": "PhoneNameIdCardMismatch", // the fixture's answer to another phone
}

// mismatchAll returns m completed with mismatch for every other authCode.
func mismatchAll(mismatch string, m map[string]string) map[string]string {
	for _, c := range authCodeList {
		if _, ok := m[c]; !ok {
			m[c] = mismatch
		}
	}
	return m
}

// TranslateTencentV3 returns the Result code a Tencent API 3.0 action answers
// for the v2 authCode the fixture or Expected gives its kind (see tc3FromV2 in
// the source for the reasoning), and false for an unknown action or
// authCode. For example "00" is "0" everywhere, "01" is "-1" for
// IdCardVerification and "-4" for PhoneVerification, and "12" (invalid card)
// is "-8" for BankCardVerification and "-9" for BankCard4EVerification.
func TranslateTencentV3(action, authCode string) (result string, ok bool) {
	result, ok = tc3FromV2[action][authCode]
	return result, ok
}

// TencentV3ResultInfo returns the Description of a Result code of a Tencent
// API 3.0 action and whether Tencent bills it, and false when the action has
// no such code.
func TencentV3ResultInfo(action, result string) (description string, billed bool, ok bool) {
	c, ok := tc3Results[action][result]
	return c.desc, c.billed, ok
}
