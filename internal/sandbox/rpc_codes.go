package sandbox

// The four Alibaba Cloud cloudauth actions the sandbox answers.
const (
	ActionID2MetaVerify           = "Id2MetaVerify"
	ActionMobile3MetaSimpleVerify = "Mobile3MetaSimpleVerify"
	ActionMobile3MetaDetailVerify = "Mobile3MetaDetailVerify"
	ActionBankMetaVerify          = "BankMetaVerify"
)

// rpcAction describes one Alibaba Cloud action.
type rpcAction struct {
	// kind is the v2 action of the check; BankMetaVerify's depends on
	// ProductType and is set per call.
	kind string
	// family selects the rows of rpcFromV2.
	family string
	// subCode and isp report whether the answer carries SubCode and
	// IspName.
	subCode, isp bool
}

var rpcActions = map[string]rpcAction{
	ActionID2MetaVerify:           {kind: ActionIDCardAuth, family: "id2"},
	ActionMobile3MetaSimpleVerify: {kind: ActionMobileAuth3, family: "mobile3", isp: true},
	ActionMobile3MetaDetailVerify: {kind: ActionMobileAuth3, family: "mobile3", subCode: true, isp: true},
	ActionBankMetaVerify:          {family: "bank", subCode: true},
}

// AliyunAnswer is Alibaba Cloud's form of one business outcome: a service
// Code ("200" for an answer, "401" for an invalid parameter) and, with
// "200", the ResultObject's BizCode ("1" consistent, "2" inconsistent, "3"
// cannot verify) and SubCode ("" for actions that do not report one).
type AliyunAnswer struct {
	Code    string
	BizCode string
	SubCode string
}

func biz(bizCode, subCode string) AliyunAnswer {
	return AliyunAnswer{Code: "200", BizCode: bizCode, SubCode: subCode}
}

// rpcInvalid is the answer to a v2 parameter error: service Code 401.
var rpcInvalid = AliyunAnswer{Code: "401"}

// rpcFromV2 is the translation table of Alibaba Cloud: for each family of
// actions, the answer that carries the meaning of each v2 authCode.
//
//   - 00 passes: BizCode 1, SubCode 101.
//   - 01, 05, 98 are mismatches: BizCode 2. Mobile3MetaDetailVerify says
//     which part: 01 (the name fails) 203 "ID matches, name does not", 98
//     (the fixture's answer to another phone) 201 "phone matches neither",
//     05 204 "other". BankMetaVerify: 201 "cardholder information wrong".
//   - Card codes keep their meaning in BankMetaVerify's 2xx SubCodes, which
//     list the same UnionPay reasons: 06 → 201, 07 → 202, 17 → 203, 18 →
//     204, 09 → 205, 12 (also a card failing Luhn) → 206, 13 → 207, 14 →
//     208, 15 → 209, 16 → 210, 19 → 211, 23 → 212. 03 (银行卡号码有误, card
//     number wrong) is 304 "无法验证，银行卡号有误", word for word, with
//     BizCode 3 and so not billed, as Tencent v3 does not bill its -4; 213
//     is "卡状态不正常", a card in an abnormal state, which is another answer
//     (card_unusable, where 03 is invalid_card). The ID card and phone
//     checks have no card, so a card code reads as a mismatch (2, SubCode
//     204).
//   - 10 and 99 (parameter errors) become service Code 401, not billed.
var rpcFromV2 = map[string]map[string]AliyunAnswer{
	"id2": mismatchAllRPC(biz("2", ""), map[string]AliyunAnswer{
		"00": biz("1", ""), "10": rpcInvalid, "99": rpcInvalid,
	}),
	"mobile3": mismatchAllRPC(biz("2", "204"), map[string]AliyunAnswer{
		"00": biz("1", "101"), "01": biz("2", "203"), "98": biz("2", "201"),
		"10": rpcInvalid, "99": rpcInvalid,
	}),
	"bank": {
		"00": biz("1", "101"), "01": biz("2", "201"), "05": biz("2", "201"), "98": biz("2", "201"),
		"06": biz("2", "201"), "07": biz("2", "202"), "17": biz("2", "203"), "18": biz("2", "204"),
		"09": biz("2", "205"), "12": biz("2", "206"), "13": biz("2", "207"), "14": biz("2", "208"),
		"15": biz("2", "209"), "16": biz("2", "210"), "19": biz("2", "211"), "23": biz("2", "212"),
		"03": biz("3", "304"),
		"10": rpcInvalid, "99": rpcInvalid,
	},
}

func mismatchAllRPC(mismatch AliyunAnswer, m map[string]AliyunAnswer) map[string]AliyunAnswer {
	for _, c := range authCodeList {
		if _, ok := m[c]; !ok {
			m[c] = mismatch
		}
	}
	return m
}

// TranslateAliyun returns Alibaba Cloud's answer of action for the v2
// authCode the fixture or Expected gives its kind (see rpcFromV2 in the
// source for the reasoning), and false for an unknown action or authCode.
// SubCode is empty for Id2MetaVerify and Mobile3MetaSimpleVerify, which do
// not report one. For example "00" is BizCode 1 (SubCode 101), "01" BizCode
// 2 (203 for Mobile3MetaDetailVerify, 201 for BankMetaVerify), "12" (invalid
// card) BizCode 2 SubCode 206 for BankMetaVerify, "99" service Code 401.
func TranslateAliyun(action, authCode string) (AliyunAnswer, bool) {
	a, ok := rpcActions[action]
	if !ok {
		return AliyunAnswer{}, false
	}
	ans, ok := rpcFromV2[a.family][authCode]
	if !a.subCode {
		ans.SubCode = ""
	}
	return ans, ok
}

// AliyunBilled reports whether Alibaba Cloud bills an answer of action, as
// the sandbox's meter counts it: a service Code other than 200 never;
// BizCode 1 and 2 always; BizCode 3 (cannot verify) not for BankMetaVerify,
// whose page says so, but for the other actions, whose pages say nothing
// (counted as billed, the conservative reading).
func AliyunBilled(action string, a AliyunAnswer) bool {
	if a.Code != "200" {
		return false
	}
	switch a.BizCode {
	case "1", "2":
		return true
	case "3":
		return action != ActionBankMetaVerify
	}
	return false
}

// rpcBizMessage is the Message of a Code 200 answer.
const rpcBizMessage = "success"

// rpcServiceMessages are the Messages of the other service Codes.
var rpcServiceMessages = map[string]string{
	"400": "参数不能为空 (empty parameter)",
	"401": "参数非法 (invalid parameter)",
	"402": "数据源异常 (data source error)",
	"403": "多次异常调用 (repeated abnormal calls)",
	"410": "未开通服务 (service not enabled)",
	"411": "RAM 用户无权限 (RAM user lacks permission)",
	"412": "欠费中 (account in arrears)",
	"500": "系统错误 (system error)",
}
