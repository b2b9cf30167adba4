package failure

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Gemini's daily reset needs America/Los_Angeles on minimal machines.
)

// Observation is what a caller or a validator saw from the provider, as
// ReadAnswer reads it from an HTTP answer. The broker classifies it, so
// that callers only pass on what they saw.
type Observation struct {
	HTTPStatus   int           // 0 when there was no HTTP response (connection reset, timeout)
	ErrorType    string        // provider error type, e.g. "insufficient_quota", "rate_limit_error", Gemini status "RESOURCE_EXHAUSTED"
	ErrorCode    string        // provider error code, e.g. "rate_limit_exceeded", "invalid_api_key", Gemini ErrorInfo reason "API_KEY_INVALID" or a quota id "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
	ErrorMessage string        // provider message; used for matching only, never stored or logged
	RetryAfter   time.Duration // Retry-After / reset header as a duration; 0 when absent
}

// Verdict is the classification of an Observation: what it says about the
// key, in a form that is safe to store, log and count.
type Verdict struct {
	// Kind is what the observation says about the key; never Unspecified.
	Kind Kind
	// Reason is a short machine-readable reason: [a-z0-9_], at most 64
	// bytes. It is a recognised provider code or type, a fixed name for a
	// recognised message phrase, "http_<status>", or "no_response"; never
	// text taken from the message.
	Reason string
	// RetryAfter is the observation's RetryAfter when Kind is RateLimited;
	// 0 means unknown, and the caller applies the pool default and cap.
	RetryAfter time.Duration
	// Until is when the quota resets, for QuotaExhausted when the provider's
	// reset is known (Gemini per-day quota); zero otherwise.
	Until time.Time
}

// Classify reads an observation in the dialect of provider p. A recognised
// code or type decides first, then a recognised message phrase, then the HTTP
// status; whatever none of them recognises is Unclassified, because then the
// request, not the key, was at fault. An unknown provider is read by status
// alone. now is used only for reset times. Classify never returns Unspecified.
func Classify(p Provider, o Observation, now time.Time) Verdict {
	n := normalize(o)
	v := classify(p, n, now)
	if v.Kind == Unspecified {
		v = byStatus(n.status)
	}
	if v.Kind == RateLimited {
		v.RetryAfter = max(o.RetryAfter, 0)
	}
	return v
}

// classify applies the provider's own rules. The zero Verdict means they
// had nothing to say.
func classify(p Provider, o observed, now time.Time) Verdict {
	switch p {
	case OpenAI:
		return openAI(o, nil)
	case OpenAICompatible:
		return openAI(o, relayPhrases)
	case Anthropic:
		return o.match(anthropicCodes, anthropicPhrases)
	case Gemini:
		return gemini(o, now)
	}
	return Verdict{}
}

var (
	openAICodes = []codeRule{
		{InvalidKey, []string{"invalid_api_key", "account_deactivated"}},
		{QuotaExhausted, []string{"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached",
			"*_spend_limit_exceeded", "*_usage_limit_exceeded"}},
		{RateLimited, []string{"rate_limit_exceeded"}},
		{PermissionDenied, []string{"unsupported_country_region_territory"}},
	}
	// relayPhrases catch OpenAI-compatible relays that admit to an empty
	// balance in the message only.
	relayPhrases = []phraseRule{
		{QuotaExhausted, "quota_message", []int{429, 402, 403, 200, 400},
			[]string{"insufficient_quota", "quota exceeded", "余额不足", "credit balance"}},
	}

	anthropicCodes = []codeRule{
		{InvalidKey, []string{"authentication_error"}},
		{QuotaExhausted, []string{"billing_error"}},
		{RateLimited, []string{"rate_limit_error"}},
		{PermissionDenied, []string{"permission_error"}},
		{Transient, []string{"api_error", "overloaded_error"}},
	}
	// anthropicPhrases catch the billing refusals that Anthropic sends as a
	// 400 invalid_request_error.
	anthropicPhrases = []phraseRule{
		{QuotaExhausted, "credit_balance_too_low", []int{400}, []string{"credit balance is too low"}},
		{QuotaExhausted, "usage_limit_reached", []int{400}, []string{"reached your specified api usage limits"}},
	}

	geminiCodes = []codeRule{
		{InvalidKey, []string{"api_key_invalid"}},
		{PermissionDenied, []string{"api_key_service_blocked", "permission_denied"}},
	}
	// geminiPhrases catch refusals whose ErrorInfo the caller did not pass
	// on. Gemini refuses unsupported regions with a 400 FAILED_PRECONDITION.
	geminiPhrases = []phraseRule{
		{InvalidKey, "api_key_invalid", []int{400}, []string{"api key not valid"}},
		{PermissionDenied, "user_location_not_supported", []int{400}, []string{"user location is not supported"}},
	}
	// geminiDaily marks a per-day quota id (GenerateRequestsPerDay…) or
	// quota metric in a RESOURCE_EXHAUSTED refusal.
	geminiDaily = []string{"perday", "per_day", "per day"}
)

// openAI reads OpenAI's dialect; relays add their message phrases.
func openAI(o observed, phrases []phraseRule) Verdict {
	if v := o.match(openAICodes, phrases); v.Kind != Unspecified {
		return v
	}
	if o.status == 408 {
		return Verdict{Kind: Transient, Reason: statusReason(o.status)}
	}
	return Verdict{}
}

// gemini reads Gemini's dialect, where RESOURCE_EXHAUSTED means a per-minute
// rate limit or, for a per-day quota, no more calls until the daily reset.
func gemini(o observed, now time.Time) Verdict {
	if v := o.match(geminiCodes, geminiPhrases); v.Kind != Unspecified {
		return v
	}
	if o.status != 429 && o.named([]string{"resource_exhausted"}) == "" {
		return Verdict{}
	}
	if o.mentions(geminiDaily) {
		return Verdict{Kind: QuotaExhausted, Reason: "daily_quota_exceeded", Until: nextPacificMidnight(now)}
	}
	return Verdict{Kind: RateLimited, Reason: "resource_exhausted"}
}

// byStatus is the rule of last resort, common to all providers.
func byStatus(status int) Verdict {
	kind := Unclassified
	switch {
	case status == 0:
		return Verdict{Kind: Transient, Reason: "no_response"}
	case status >= 500 && status <= 599:
		kind = Transient
	case status == 401:
		kind = InvalidKey
	case status == 402:
		kind = QuotaExhausted
	case status == 403:
		kind = PermissionDenied
	case status == 429:
		kind = RateLimited
	}
	return Verdict{Kind: kind, Reason: statusReason(status)}
}

// statusReason names a status as a reason; nonsense statuses share one name
// so that a reason never holds a minus sign or an unbounded number.
func statusReason(status int) string {
	if status < 0 || status > 999 {
		return "invalid_status"
	}
	return "http_" + strconv.Itoa(status)
}

// pacific is the zone of Gemini's daily quota reset. The fixed fallback is
// only for a machine whose ZONEINFO points at something broken.
var pacific = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		return time.FixedZone("PST", -8*60*60)
	}
	return loc
})

// nextPacificMidnight is the first midnight in America/Los_Angeles strictly
// after now. Pacific DST changes at 02:00, so midnight always exists.
func nextPacificMidnight(now time.Time) time.Time {
	y, m, d := now.In(pacific()).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, pacific())
}

// observed is an Observation made ready for matching: type and code trimmed
// and lower-cased, the message lower-cased.
type observed struct {
	status    int
	typ, code string
	msg       string
}

func normalize(o Observation) observed {
	return observed{
		status: o.HTTPStatus,
		typ:    strings.ToLower(strings.TrimSpace(o.ErrorType)),
		code:   strings.ToLower(strings.TrimSpace(o.ErrorCode)),
		msg:    strings.ToLower(o.ErrorMessage),
	}
}

// codeRule gives the kind for provider codes or types. A name starting with
// "*" matches any code ending with the rest, as docs/design.md writes them.
type codeRule struct {
	kind  Kind
	names []string
}

// phraseRule gives the kind and a fixed reason for a message that contains
// one of the (lower-case) phrases, at one of the statuses.
type phraseRule struct {
	kind     Kind
	reason   string
	statuses []int
	phrases  []string
}

// match applies code rules, then phrase rules, each in order; the zero
// Verdict means none matched.
func (o observed) match(codes []codeRule, phrases []phraseRule) Verdict {
	for _, r := range codes {
		if reason := o.named(r.names); reason != "" {
			return Verdict{Kind: r.kind, Reason: reason}
		}
	}
	for _, r := range phrases {
		if slices.Contains(r.statuses, o.status) && o.says(r.phrases) {
			return Verdict{Kind: r.kind, Reason: r.reason}
		}
	}
	return Verdict{}
}

// named returns the reason for the first of names found in the code or,
// since relays and callers are sloppy, in the type; "" if none is.
func (o observed) named(names []string) string {
	for _, name := range names {
		for _, got := range [...]string{o.code, o.typ} {
			if reason, ok := matchName(name, got); ok {
				return reason
			}
		}
	}
	return ""
}

// matchName reports whether got is name, or ends like a "*" name. The
// reason is always the rule's own text (the name, or a glob's fixed
// suffix), never what the caller sent: reasons are stored in the audit
// trail, logged and used as a metrics label value, so they come from a
// fixed vocabulary.
func matchName(name, got string) (reason string, ok bool) {
	suffix, glob := strings.CutPrefix(name, "*")
	if !glob {
		return name, got == name
	}
	return strings.TrimPrefix(suffix, "_"), strings.HasSuffix(got, suffix)
}

// says reports whether the message contains one of phrases.
func (o observed) says(phrases []string) bool {
	return slices.ContainsFunc(phrases, func(p string) bool { return strings.Contains(o.msg, p) })
}

// mentions reports whether the code, the type or the message contains one
// of words.
func (o observed) mentions(words []string) bool {
	return slices.ContainsFunc(words, func(w string) bool {
		return strings.Contains(o.code, w) || strings.Contains(o.typ, w) || strings.Contains(o.msg, w)
	})
}

// validReason reports whether s may be used as a Verdict.Reason.
func validReason(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
