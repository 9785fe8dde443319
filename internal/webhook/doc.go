// Package webhook signs and delivers result events the Standard Webhooks
// way (https://www.standardwebhooks.com), and verifies them as a customer's
// backend would.
//
// The HMAC itself is the spec authors' reference library
// (github.com/standard-webhooks/standard-webhooks/libraries/go); this
// package adds what a sender needs around it: secrets that never print,
// signing with several secrets during a rotation, one delivery attempt
// with its outcome classified (DeliveryError), the retry Schedule, and a
// Receiver for the demo and tests.
//
// Bodies are opaque JSON built elsewhere, already free of personal data
// (DESIGN.md, invariant 7). Nothing here puts a body, a secret or an
// endpoint's path or query into an error: a customer's URL may carry
// their tokens.
//
// Callback URLs come from API callers, so a URLPolicy decides which are
// accepted (absolute https, no user info, bounded length, no fragment, no
// loopback, private or other non-public address literal) everywhere one is
// accepted, and the Client checks it again before each delivery. The
// Client's default transport dials through a guard (code.dny.dev/ssrf on
// net.Dialer.Control) that refuses any connection to a non-public address,
// whatever name led there, ignores the proxy environment variables, and
// never follows redirects. The policy's allowlist opens both, explicitly:
// the demo and the tests allowlist loopback.
//
// Retries belong to the caller, the webhook task: Deliver makes one attempt
// with a fresh timestamp and the event's stable webhook-id, and the task
// retries on Schedule.Delay until DeliveryError.Permanent or MaxRetry.
package webhook
