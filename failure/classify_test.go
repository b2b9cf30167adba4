package failure

import (
	"slices"
	"testing"
	"time"
)

// tableNow is 02:00 PST on a winter day; the next Pacific midnight is 08:00 UTC the day after.
var (
	tableNow      = time.Date(2026, time.January, 15, 10, 0, 0, 0, time.UTC)
	tableMidnight = time.Date(2026, time.January, 16, 8, 0, 0, 0, time.UTC)
)

type classifyCase struct {
	name string
	p    Provider
	o    Observation
	want Verdict
}

func TestClassify(t *testing.T) {
	for _, c := range allCases() {
		t.Run(string(c.p)+"/"+c.name, func(t *testing.T) {
			got := Classify(c.p, c.o, tableNow)
			checkVerdict(t, got, c.want)
		})
	}
}

func allCases() []classifyCase {
	return slices.Concat(openAICases, relayCases, anthropicCases, geminiCases, unknownProviderCases)
}

func checkVerdict(t *testing.T, got, want Verdict) {
	t.Helper()
	if got.Kind != want.Kind || got.Reason != want.Reason || got.RetryAfter != want.RetryAfter || !got.Until.Equal(want.Until) {
		t.Errorf("got {%v %q %v %v}, want {%v %q %v %v}",
			got.Kind, got.Reason, got.RetryAfter, got.Until, want.Kind, want.Reason, want.RetryAfter, want.Until)
	}
	if !validReason(got.Reason) {
		t.Errorf("reason %q is not [a-z0-9_]{1,64}", got.Reason)
	}
}

var openAICases = []classifyCase{
	{"401 invalid_api_key", OpenAI, Observation{HTTPStatus: 401, ErrorType: "invalid_request_error", ErrorCode: "invalid_api_key",
		ErrorMessage: "Incorrect API key provided: sk-abc***wxyz. You can find your API key at https://platform.openai.com/account/api-keys."},
		Verdict{Kind: InvalidKey, Reason: "invalid_api_key"}},
	{"401 account_deactivated", OpenAI, Observation{HTTPStatus: 401, ErrorType: "invalid_request_error", ErrorCode: "account_deactivated",
		ErrorMessage: "This key is associated with a deactivated account."},
		Verdict{Kind: InvalidKey, Reason: "account_deactivated"}},
	{"401 without code", OpenAI, Observation{HTTPStatus: 401, ErrorType: "invalid_request_error",
		ErrorMessage: "You didn't provide an API key."},
		Verdict{Kind: InvalidKey, Reason: "http_401"}},
	{"429 insufficient_quota", OpenAI, Observation{HTTPStatus: 429, ErrorType: "insufficient_quota", ErrorCode: "insufficient_quota",
		ErrorMessage: "You exceeded your current quota, please check your plan and billing details.", RetryAfter: 20 * time.Second},
		Verdict{Kind: QuotaExhausted, Reason: "insufficient_quota"}},
	{"429 rate_limit_exceeded tokens", OpenAI, Observation{HTTPStatus: 429, ErrorType: "tokens", ErrorCode: "rate_limit_exceeded",
		ErrorMessage: "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.",
		RetryAfter:   2 * time.Second},
		Verdict{Kind: RateLimited, Reason: "rate_limit_exceeded", RetryAfter: 2 * time.Second}},
	{"429 rate_limit_exceeded requests", OpenAI, Observation{HTTPStatus: 429, ErrorType: "requests", ErrorCode: "rate_limit_exceeded", RetryAfter: 6 * time.Minute},
		Verdict{Kind: RateLimited, Reason: "rate_limit_exceeded", RetryAfter: 6 * time.Minute}},
	{"429 bare", OpenAI, Observation{HTTPStatus: 429},
		Verdict{Kind: RateLimited, Reason: "http_429"}},
	{"429 negative retry", OpenAI, Observation{HTTPStatus: 429, RetryAfter: -time.Second},
		Verdict{Kind: RateLimited, Reason: "http_429"}},
	{"429 billing_hard_limit_reached", OpenAI, Observation{HTTPStatus: 429, ErrorCode: "billing_hard_limit_reached"},
		Verdict{Kind: QuotaExhausted, Reason: "billing_hard_limit_reached"}},
	{"credit_balance_exhausted", OpenAI, Observation{HTTPStatus: 429, ErrorCode: "credit_balance_exhausted"},
		Verdict{Kind: QuotaExhausted, Reason: "credit_balance_exhausted"}},
	{"spend limit code", OpenAI, Observation{HTTPStatus: 429, ErrorCode: "project_spend_limit_exceeded"},
		Verdict{Kind: QuotaExhausted, Reason: "spend_limit_exceeded"}},
	{"usage limit code", OpenAI, Observation{HTTPStatus: 429, ErrorCode: "monthly_usage_limit_exceeded"},
		Verdict{Kind: QuotaExhausted, Reason: "usage_limit_exceeded"}},
	{"spend limit code unfit as reason", OpenAI, Observation{HTTPStatus: 429, ErrorCode: "Proj-7_spend_limit_exceeded"},
		Verdict{Kind: QuotaExhausted, Reason: "spend_limit_exceeded"}},
	{"402", OpenAI, Observation{HTTPStatus: 402},
		Verdict{Kind: QuotaExhausted, Reason: "http_402"}},
	{"403 region", OpenAI, Observation{HTTPStatus: 403, ErrorType: "request_forbidden", ErrorCode: "unsupported_country_region_territory",
		ErrorMessage: "Country, region, or territory not supported"},
		Verdict{Kind: PermissionDenied, Reason: "unsupported_country_region_territory"}},
	{"403 bare", OpenAI, Observation{HTTPStatus: 403},
		Verdict{Kind: PermissionDenied, Reason: "http_403"}},
	{"500 server_error", OpenAI, Observation{HTTPStatus: 500, ErrorType: "server_error",
		ErrorMessage: "The server had an error while processing your request. Sorry about that!"},
		Verdict{Kind: Transient, Reason: "http_500"}},
	{"502", OpenAI, Observation{HTTPStatus: 502}, Verdict{Kind: Transient, Reason: "http_502"}},
	{"503", OpenAI, Observation{HTTPStatus: 503}, Verdict{Kind: Transient, Reason: "http_503"}},
	{"504", OpenAI, Observation{HTTPStatus: 504}, Verdict{Kind: Transient, Reason: "http_504"}},
	{"408", OpenAI, Observation{HTTPStatus: 408}, Verdict{Kind: Transient, Reason: "http_408"}},
	{"no response", OpenAI, Observation{}, Verdict{Kind: Transient, Reason: "no_response"}},
	{"400 context length", OpenAI, Observation{HTTPStatus: 400, ErrorType: "invalid_request_error", ErrorCode: "context_length_exceeded",
		ErrorMessage: "This model's maximum context length is 128000 tokens."},
		Verdict{Kind: Unclassified, Reason: "http_400"}},
	{"404 model_not_found", OpenAI, Observation{HTTPStatus: 404, ErrorType: "invalid_request_error", ErrorCode: "model_not_found",
		ErrorMessage: "The model `gpt-9` does not exist or you do not have access to it."},
		Verdict{Kind: Unclassified, Reason: "http_404"}},
	{"code in type, shouting, spaces", OpenAI, Observation{HTTPStatus: 429, ErrorType: "  INSUFFICIENT_QUOTA "},
		Verdict{Kind: QuotaExhausted, Reason: "insufficient_quota"}},
	{"code decides over status", OpenAI, Observation{HTTPStatus: 200, ErrorCode: "Invalid_API_Key"},
		Verdict{Kind: InvalidKey, Reason: "invalid_api_key"}},
	{"message alone says nothing", OpenAI, Observation{HTTPStatus: 400, ErrorMessage: "invalid_api_key insufficient_quota 余额不足"},
		Verdict{Kind: Unclassified, Reason: "http_400"}},
	{"no relay phrases for openai", OpenAI, Observation{HTTPStatus: 429, ErrorMessage: "quota exceeded"},
		Verdict{Kind: RateLimited, Reason: "http_429"}},
}

var relayCases = []classifyCase{
	{"200 with error body, balance", OpenAICompatible, Observation{HTTPStatus: 200, ErrorType: "new_api_error", ErrorMessage: "当前账户余额不足"},
		Verdict{Kind: QuotaExhausted, Reason: "quota_message"}},
	{"429 quota exceeded message", OpenAICompatible, Observation{HTTPStatus: 429, ErrorMessage: "Quota Exceeded for this token", RetryAfter: time.Minute},
		Verdict{Kind: QuotaExhausted, Reason: "quota_message"}},
	{"402 credit balance", OpenAICompatible, Observation{HTTPStatus: 402, ErrorMessage: "Your credit balance is too low"},
		Verdict{Kind: QuotaExhausted, Reason: "quota_message"}},
	{"403 insufficient_quota message", OpenAICompatible, Observation{HTTPStatus: 403, ErrorType: "upstream_error", ErrorMessage: "upstream: insufficient_quota"},
		Verdict{Kind: QuotaExhausted, Reason: "quota_message"}},
	{"400 quota message", OpenAICompatible, Observation{HTTPStatus: 400, ErrorMessage: "quota exceeded"},
		Verdict{Kind: QuotaExhausted, Reason: "quota_message"}},
	{"401 quota message is still 401", OpenAICompatible, Observation{HTTPStatus: 401, ErrorMessage: "insufficient_quota"},
		Verdict{Kind: InvalidKey, Reason: "http_401"}},
	{"500 quota message is transient", OpenAICompatible, Observation{HTTPStatus: 500, ErrorMessage: "quota exceeded"},
		Verdict{Kind: Transient, Reason: "http_500"}},
	{"429 rate_limit_exceeded", OpenAICompatible, Observation{HTTPStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: 12 * time.Millisecond},
		Verdict{Kind: RateLimited, Reason: "rate_limit_exceeded", RetryAfter: 12 * time.Millisecond}},
	{"200 invalid_api_key", OpenAICompatible, Observation{HTTPStatus: 200, ErrorCode: "invalid_api_key", ErrorMessage: "无效的令牌"},
		Verdict{Kind: InvalidKey, Reason: "invalid_api_key"}},
	{"200 without error words", OpenAICompatible, Observation{HTTPStatus: 200, ErrorMessage: "model not available"},
		Verdict{Kind: Unclassified, Reason: "http_200"}},
	{"no response", OpenAICompatible, Observation{}, Verdict{Kind: Transient, Reason: "no_response"}},
}

var anthropicCases = []classifyCase{
	{"401 authentication_error", Anthropic, Observation{HTTPStatus: 401, ErrorType: "authentication_error", ErrorMessage: "invalid x-api-key"},
		Verdict{Kind: InvalidKey, Reason: "authentication_error"}},
	{"400 credit balance", Anthropic, Observation{HTTPStatus: 400, ErrorType: "invalid_request_error",
		ErrorMessage: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},
		Verdict{Kind: QuotaExhausted, Reason: "credit_balance_too_low"}},
	{"400 usage limits", Anthropic, Observation{HTTPStatus: 400, ErrorType: "invalid_request_error",
		ErrorMessage: "You have reached your specified API usage limits. You will regain access on 2026-02-01 at 00:00 UTC."},
		Verdict{Kind: QuotaExhausted, Reason: "usage_limit_reached"}},
	{"400 max_tokens", Anthropic, Observation{HTTPStatus: 400, ErrorType: "invalid_request_error",
		ErrorMessage: "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4"},
		Verdict{Kind: Unclassified, Reason: "http_400"}},
	{"402 billing_error", Anthropic, Observation{HTTPStatus: 402, ErrorType: "billing_error"},
		Verdict{Kind: QuotaExhausted, Reason: "billing_error"}},
	{"402 bare", Anthropic, Observation{HTTPStatus: 402}, Verdict{Kind: QuotaExhausted, Reason: "http_402"}},
	{"429 rate_limit_error", Anthropic, Observation{HTTPStatus: 429, ErrorType: "rate_limit_error",
		ErrorMessage: "This request would exceed the rate limit for your organization of 50,000 input tokens per minute.", RetryAfter: 30 * time.Second},
		Verdict{Kind: RateLimited, Reason: "rate_limit_error", RetryAfter: 30 * time.Second}},
	{"403 permission_error", Anthropic, Observation{HTTPStatus: 403, ErrorType: "permission_error",
		ErrorMessage: "Your API key does not have permission to use the specified resource."},
		Verdict{Kind: PermissionDenied, Reason: "permission_error"}},
	{"404 not_found_error", Anthropic, Observation{HTTPStatus: 404, ErrorType: "not_found_error", ErrorMessage: "model: claude-9"},
		Verdict{Kind: Unclassified, Reason: "http_404"}},
	{"413 request_too_large", Anthropic, Observation{HTTPStatus: 413, ErrorType: "request_too_large"},
		Verdict{Kind: Unclassified, Reason: "http_413"}},
	{"500 api_error", Anthropic, Observation{HTTPStatus: 500, ErrorType: "api_error", ErrorMessage: "Internal server error"},
		Verdict{Kind: Transient, Reason: "api_error"}},
	{"529 overloaded_error", Anthropic, Observation{HTTPStatus: 529, ErrorType: "overloaded_error", ErrorMessage: "Overloaded"},
		Verdict{Kind: Transient, Reason: "overloaded_error"}},
	{"overloaded_error mid-stream after 200", Anthropic, Observation{HTTPStatus: 200, ErrorType: "overloaded_error"},
		Verdict{Kind: Transient, Reason: "overloaded_error"}},
	{"529 bare", Anthropic, Observation{HTTPStatus: 529}, Verdict{Kind: Transient, Reason: "http_529"}},
	{"no response", Anthropic, Observation{}, Verdict{Kind: Transient, Reason: "no_response"}},
}

var geminiCases = []classifyCase{
	{"400 API_KEY_INVALID", Gemini, Observation{HTTPStatus: 400, ErrorType: "INVALID_ARGUMENT", ErrorCode: "API_KEY_INVALID",
		ErrorMessage: "API key not valid. Please pass a valid API key."},
		Verdict{Kind: InvalidKey, Reason: "api_key_invalid"}},
	{"400 API key not valid, no ErrorInfo", Gemini, Observation{HTTPStatus: 400, ErrorType: "INVALID_ARGUMENT",
		ErrorMessage: "API key not valid. Please pass a valid API key."},
		Verdict{Kind: InvalidKey, Reason: "api_key_invalid"}},
	{"400 API key expired", Gemini, Observation{HTTPStatus: 400, ErrorType: "INVALID_ARGUMENT", ErrorCode: "API_KEY_INVALID",
		ErrorMessage: "API key expired. Please renew the API key."},
		Verdict{Kind: InvalidKey, Reason: "api_key_invalid"}},
	{"401 UNAUTHENTICATED", Gemini, Observation{HTTPStatus: 401, ErrorType: "UNAUTHENTICATED"},
		Verdict{Kind: InvalidKey, Reason: "http_401"}},
	{"403 API_KEY_SERVICE_BLOCKED", Gemini, Observation{HTTPStatus: 403, ErrorType: "PERMISSION_DENIED", ErrorCode: "API_KEY_SERVICE_BLOCKED",
		ErrorMessage: "Requests to this API generativelanguage.googleapis.com method google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked."},
		Verdict{Kind: PermissionDenied, Reason: "api_key_service_blocked"}},
	{"403 PERMISSION_DENIED", Gemini, Observation{HTTPStatus: 403, ErrorType: "PERMISSION_DENIED",
		ErrorMessage: "Method doesn't allow unregistered callers."},
		Verdict{Kind: PermissionDenied, Reason: "permission_denied"}},
	{"400 user location", Gemini, Observation{HTTPStatus: 400, ErrorType: "FAILED_PRECONDITION",
		ErrorMessage: "User location is not supported for the API use."},
		Verdict{Kind: PermissionDenied, Reason: "user_location_not_supported"}},
	{"429 per-day quota id", Gemini, Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED",
		ErrorCode:    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
		ErrorMessage: "You exceeded your current quota, please check your plan and billing details.", RetryAfter: 33 * time.Second},
		Verdict{Kind: QuotaExhausted, Reason: "daily_quota_exceeded", Until: tableMidnight}},
	{"429 per-day in message", Gemini, Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED",
		ErrorMessage: "Quota exceeded for quota metric 'Generate Content API requests per day' and limit 'GenerateContent request limit per day'"},
		Verdict{Kind: QuotaExhausted, Reason: "daily_quota_exceeded", Until: tableMidnight}},
	{"429 per-minute quota id", Gemini, Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED",
		ErrorCode:  "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
		RetryAfter: 21 * time.Second},
		Verdict{Kind: RateLimited, Reason: "resource_exhausted", RetryAfter: 21 * time.Second}},
	{"429 unspecified", Gemini, Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED",
		ErrorMessage: "Resource has been exhausted (e.g. check quota)."},
		Verdict{Kind: RateLimited, Reason: "resource_exhausted"}},
	{"RESOURCE_EXHAUSTED without status", Gemini, Observation{ErrorType: "resource_exhausted"},
		Verdict{Kind: RateLimited, Reason: "resource_exhausted"}},
	{"500 INTERNAL", Gemini, Observation{HTTPStatus: 500, ErrorType: "INTERNAL"}, Verdict{Kind: Transient, Reason: "http_500"}},
	{"503 UNAVAILABLE", Gemini, Observation{HTTPStatus: 503, ErrorType: "UNAVAILABLE", ErrorMessage: "The model is overloaded. Please try again later."},
		Verdict{Kind: Transient, Reason: "http_503"}},
	{"504 DEADLINE_EXCEEDED", Gemini, Observation{HTTPStatus: 504, ErrorType: "DEADLINE_EXCEEDED"}, Verdict{Kind: Transient, Reason: "http_504"}},
	{"no response", Gemini, Observation{}, Verdict{Kind: Transient, Reason: "no_response"}},
	{"400 bad request", Gemini, Observation{HTTPStatus: 400, ErrorType: "INVALID_ARGUMENT",
		ErrorMessage: "* GenerateContentRequest.contents: contents is not specified"},
		Verdict{Kind: Unclassified, Reason: "http_400"}},
	{"404 model", Gemini, Observation{HTTPStatus: 404, ErrorType: "NOT_FOUND", ErrorMessage: "models/gemini-9 is not found for API version v1beta"},
		Verdict{Kind: Unclassified, Reason: "http_404"}},
}

var unknownProviderCases = []classifyCase{
	{"429", "mistral", Observation{HTTPStatus: 429, RetryAfter: time.Second}, Verdict{Kind: RateLimited, Reason: "http_429", RetryAfter: time.Second}},
	{"codes are dialect", "mistral", Observation{HTTPStatus: 400, ErrorCode: "invalid_api_key"}, Verdict{Kind: Unclassified, Reason: "http_400"}},
	{"599", "", Observation{HTTPStatus: 599}, Verdict{Kind: Transient, Reason: "http_599"}},
	{"600", "", Observation{HTTPStatus: 600}, Verdict{Kind: Unclassified, Reason: "http_600"}},
	{"negative status", "", Observation{HTTPStatus: -1}, Verdict{Kind: Unclassified, Reason: "invalid_status"}},
	{"huge status", "", Observation{HTTPStatus: 1 << 40}, Verdict{Kind: Unclassified, Reason: "invalid_status"}},
}

// TestGeminiDailyResetDST checks that the per-day quota resets at midnight
// Pacific on either side of both DST changes of 2026 (8 March, 1 November).
func TestGeminiDailyResetDST(t *testing.T) {
	perDay := Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}
	utc := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2026, month, day, hour, minute, 0, 0, time.UTC)
	}
	cases := []struct {
		name      string
		now, want time.Time
	}{
		{"eve of spring forward (PST)", utc(time.March, 7, 20, 0), utc(time.March, 8, 8, 0)},
		{"one minute before midnight PST", utc(time.March, 8, 7, 59), utc(time.March, 8, 8, 0)},
		{"spring-forward day, before 02:00 PST", utc(time.March, 8, 9, 30), utc(time.March, 9, 7, 0)},
		{"spring-forward day, after 03:00 PDT", utc(time.March, 8, 11, 0), utc(time.March, 9, 7, 0)},
		{"exactly midnight is not after now", utc(time.March, 9, 7, 0), utc(time.March, 10, 7, 0)},
		{"fall-back day, 00:30 PDT", utc(time.November, 1, 7, 30), utc(time.November, 2, 8, 0)},
		{"fall-back day, second 01:30 (PST)", utc(time.November, 1, 9, 30), utc(time.November, 2, 8, 0)},
		{"eve of fall back (PDT)", utc(time.November, 1, 6, 59), utc(time.November, 1, 7, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, now := range []time.Time{c.now, c.now.In(time.FixedZone("JST", 9*60*60))} {
				got := Classify(Gemini, perDay, now)
				checkVerdict(t, got, Verdict{Kind: QuotaExhausted, Reason: "daily_quota_exceeded", Until: c.want})
			}
		})
	}
}

func TestNextPacificMidnightIsMidnight(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	for now := tableNow; now.Before(tableNow.AddDate(1, 0, 0)); now = now.Add(7 * time.Hour) {
		got := nextPacificMidnight(now).In(la)
		if !got.After(now) || got.Sub(now) > 25*time.Hour || got.Hour() != 0 || got.Minute() != 0 || got.Second() != 0 {
			t.Fatalf("nextPacificMidnight(%v) = %v", now, got)
		}
	}
}
