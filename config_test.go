package webhook_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// testEnv is the environment the configSample files are loaded with. The
// values are distinctive, so that tests can look for them in errors.
var testEnv = map[string]string{
	"WEBHOOK_SECRET":        "main-secret-Q7v2",
	"OAUTH_CLIENT_ID":       "client-4711",
	"OAUTH_CLIENT_SECRET":   "oauth-secret-Z9k3",
	"ERP_WEBHOOK_SECRET":    "erp-secret-M4x8",
	"ERP_API_KEY":           "erp-api-key-P2w6",
	"NOTIF_SECRET":          "notif-secret-L5c1",
	"BILLING_SECRET":        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"BILLING_OLD_SECRET":    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
	"BILLING_CLIENT_SECRET": "billing-client-secret-R8t0",
	"EMPTY":                 "",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// cbCalls records which registered callback ran.
type cbCalls struct {
	mu    sync.Mutex
	names []string
}

func (c *cbCalls) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, name)
}

func (c *cbCalls) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.names) == 0 {
		return ""
	}
	return c.names[len(c.names)-1]
}

// orderNotification is the seed's notification transform, registered as
// "order_notification".
func orderNotification(p webhook.Payload) (any, error) {
	return map[string]any{
		"type":     "order_" + string(p.Event),
		"order_id": p.Object["id"],
		"status":   p.Object["status"],
	}, nil
}

// newLoader returns a loader with the callbacks and transform the configSample
// files name; each callback records its name in c.
func newLoader(c *cbCalls, env map[string]string) *webhook.ConfigLoader {
	failure := func(name string) func(webhook.Failure) {
		return func(webhook.Failure) { c.add(name) }
	}
	alert := func(name string) func(webhook.Alert) {
		return func(webhook.Alert) { c.add(name) }
	}
	return &webhook.ConfigLoader{
		OnFailure: map[string]func(webhook.Failure){
			"myapp.webhooks.on_webhook_failed": failure("myapp.webhooks.on_webhook_failed"),
			"ops.page":                         failure("ops.page"),
		},
		OnAlert: map[string]func(webhook.Alert){
			"myapp.monitoring.webhook_alert": alert("myapp.monitoring.webhook_alert"),
			"ops.alert":                      alert("ops.alert"),
		},
		Transforms: map[string]func(webhook.Payload) (any, error){
			"order_notification": orderNotification,
		},
		LookupEnv: lookupIn(env),
	}
}

var (
	createdUpdated = []webhook.EventType{webhook.Created, webhook.Updated}
	defaultStatus  = []int{429, 500, 502, 503, 504}
)

// configSample is a file under testdata/config and what it must load to.
type configSample struct {
	file      string // without extension: .yaml and .json are both checked
	want      webhook.Config
	failure   string // the name of the OnFailure callback; "": nil
	alert     string // the name of the Monitor.OnAlert callback; "": nil
	transform map[string]bool
}

func configSamples() []configSample {
	return []configSample{
		{
			file: "rail_django",
			want: webhook.Config{
				Timeout: 30 * time.Second,
				Retry:   &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 60 * time.Second},
				Monitor: webhook.Monitor{AlertOnConsecutiveFailures: 5},
				Endpoints: []webhook.Endpoint{
					{Name: "main", URL: "https://example.com/webhooks/", Secret: testEnv["WEBHOOK_SECRET"],
						Events: []webhook.EventType{webhook.Created, webhook.Updated, webhook.Deleted}},
					{Name: "crm", URL: "https://crm.example.com/api/webhooks/", Secret: "secret_crm_123",
						IncludeModels: []string{"store.Customer", "store.Order"}, Events: createdUpdated},
					{Name: "analytics", URL: "https://analytics.example.com/events/", Secret: "secret_analytics_456",
						IncludeModels: []string{"store.Order"}, Events: []webhook.EventType{webhook.Created},
						IncludeFields: map[string][]string{"*": {"id", "total", "status", "created_at"}}},
					{Name: "orders", URL: "https://example.com/webhooks/orders/", Secret: "secret_123",
						IncludeModels: []string{"store.Order", "store.OrderItem"}},
					{Name: "all_except_logs", URL: "https://example.com/webhooks/", Secret: "secret_123",
						ExcludeModels: []string{"audit.AuditEvent", "sessions.Session"}},
					{Name: "minimal", URL: "https://example.com/webhooks/", Secret: "secret_123",
						IncludeFields: map[string][]string{
							"store.Order":    {"id", "reference", "status", "total"},
							"store.Customer": {"id", "name", "email"},
						}},
					{Name: "safe", URL: "https://example.com/webhooks/", Secret: "secret_123",
						ExcludeFields: map[string][]string{
							"*":              {"password", "token", "secret"},
							"store.Customer": {"ssn", "credit_card"},
						}},
					{Name: "redacted", URL: "https://example.com/webhooks/", Secret: "secret_123",
						RedactFields: map[string]map[string]any{
							"store.Customer": {"email": "***@***.com", "phone": "***-***-****"},
						}},
					{Name: "with_token", URL: "https://example.com/webhooks/", Secret: "signature_secret",
						Headers: map[string]string{"Authorization": "Bearer static_token_xyz"}},
					{Name: "oauth2", URL: "https://example.com/webhooks/", Secret: "signature_secret",
						OAuth2: &webhook.OAuth2{ClientID: testEnv["OAUTH_CLIENT_ID"], ClientSecret: testEnv["OAUTH_CLIENT_SECRET"],
							TokenURL: "https://auth.example.com/oauth/token", Scopes: []string{"webhooks:write"}}},
					{Name: "resilient", URL: "https://example.com/webhooks/", Secret: "secret_123",
						Retry: &webhook.RetryConfig{MaxRetries: 5, RetryDelay: time.Minute, BackoffFactor: 2,
							MaxDelay: time.Hour, RetryOnStatus: defaultStatus}},
				},
			},
			failure: "myapp.webhooks.on_webhook_failed",
			alert:   "myapp.monitoring.webhook_alert",
		},
		{
			file: "erp_sync",
			want: webhook.Config{Endpoints: []webhook.Endpoint{{
				Name:          "erp_sync",
				URL:           "https://erp.company.com/api/webhooks/",
				Secret:        testEnv["ERP_WEBHOOK_SECRET"],
				IncludeModels: []string{"store.Product", "store.Order", "inventory.StockMovement"},
				Events:        createdUpdated,
				IncludeFields: map[string][]string{
					"store.Product": {"id", "sku", "name", "price", "stock_quantity"},
					"store.Order":   {"id", "reference", "status", "total", "items"},
				},
				Headers: map[string]string{"X-API-Key": testEnv["ERP_API_KEY"]},
			}}},
		},
		{
			file: "notifications",
			want: webhook.Config{Endpoints: []webhook.Endpoint{{
				Name:          "notifications",
				URL:           "https://notifications.example.com/events/",
				Secret:        testEnv["NOTIF_SECRET"],
				IncludeModels: []string{"store.Order"},
				Events:        createdUpdated,
			}}},
			transform: map[string]bool{"notifications": true},
		},
		{
			file: "full",
			want: webhook.Config{
				Sync:    true,
				Timeout: 2500 * time.Millisecond,
				Retry: &webhook.RetryConfig{MaxRetries: 4, RetryDelay: 500 * time.Millisecond, BackoffFactor: 1.5,
					MaxDelay: 30 * time.Second, RetryOnStatus: []int{429, 503}, NoJitter: true},
				Monitor:        webhook.Monitor{AlertOnConsecutiveFailures: 3},
				Workers:        8,
				QueueSize:      500,
				MaxBodyBytes:   65536,
				HTTPSOnly:      true,
				CircuitBreaker: webhook.CircuitBreaker{Threshold: 5, Cooldown: 12500 * time.Millisecond},
				Endpoints: []webhook.Endpoint{
					{
						Name:                "billing",
						URL:                 "https://billing.example.com/hooks",
						Secret:              testEnv["BILLING_SECRET"],
						Scheme:              webhook.SchemeStandard,
						SendFilteredUpdates: true,
						PreviousSecret:      testEnv["BILLING_OLD_SECRET"],
						PreviousSecretUntil: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
						Events:              []webhook.EventType{webhook.Created},
						IncludeModels:       []string{"store.Invoice", "store.Customer"},
						ExcludeModels:       []string{"store.Draft"},
						IncludeFields:       map[string][]string{"*": {"id", "total", "customer"}},
						ExcludeFields:       map[string][]string{"*": {"customer.password"}},
						RedactFields: map[string]map[string]any{
							"*": {"customer.email": "[hidden]"},
							"store.Customer": {
								"phone": nil,
								"card":  map[string]any{"last4": "****", "masked": true, "digits": int64(4)},
								"tags":  []any{"a", int64(2)},
							},
						},
						Headers: map[string]string{"X-Tenant": "acme", "X-Trace": "on"},
						OAuth2: &webhook.OAuth2{
							ClientID:     "billing",
							ClientSecret: testEnv["BILLING_CLIENT_SECRET"],
							TokenURL:     "https://auth.example.com/token",
							Scopes:       []string{"webhooks.write", "webhooks.read"},
							EndpointParams: map[string][]string{
								"audience": {"https://billing.example.com"},
								"resource": {"a", "b"},
							},
						},
						// retry_config starts from the top-level one.
						Retry: &webhook.RetryConfig{MaxRetries: 4, RetryDelay: 500 * time.Millisecond, BackoffFactor: 1.5,
							MaxDelay: 30 * time.Second, RetryOnStatus: []int{}, NoJitter: true},
						Timeout: time.Second,
					},
					{
						Name:     "legacy",
						URL:      "https://legacy.example.com/hooks?v=2",
						Secret:   "literal-$-dollar-${NOT_A_VAR}",
						Disabled: true,
					},
				},
			},
			failure: "ops.page",
			alert:   "ops.alert",
		},
	}
}

// diff reports the fields of got and want (structs, pointers, slices of
// structs) that differ, by path. Func fields are skipped: the tests check
// them by calling them.
func configDiff(path string, got, want reflect.Value) []string {
	if got.Type() == reflect.TypeFor[time.Time]() {
		if !got.Interface().(time.Time).Equal(want.Interface().(time.Time)) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
	switch got.Kind() {
	case reflect.Func:
		return nil
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
			}
			return nil
		}
		return configDiff(path, got.Elem(), want.Elem())
	case reflect.Struct:
		var out []string
		for i := range got.NumField() {
			if !got.Type().Field(i).IsExported() {
				continue
			}
			out = append(out, configDiff(path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))...)
		}
		return out
	case reflect.Slice:
		if got.Type().Elem().Kind() == reflect.Struct {
			if got.Len() != want.Len() {
				return []string{fmt.Sprintf("%s: %d elements, want %d", path, got.Len(), want.Len())}
			}
			var out []string
			for i := range got.Len() {
				out = append(out, configDiff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))...)
			}
			return out
		}
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface())}
	}
	return nil
}

// checkConfig compares got with s.want field by field, and its funcs by
// calling them.
func checkConfig(t *testing.T, got webhook.Config, s configSample, c *cbCalls) {
	t.Helper()
	for _, d := range configDiff("Config", reflect.ValueOf(got), reflect.ValueOf(s.want)) {
		t.Error(d)
	}
	if (got.OnFailure != nil) != (s.failure != "") {
		t.Errorf("OnFailure set: %v, want %v", got.OnFailure != nil, s.failure != "")
	} else if got.OnFailure != nil {
		got.OnFailure(webhook.Failure{})
		if c.last() != s.failure {
			t.Errorf("OnFailure called %q, want %q", c.last(), s.failure)
		}
	}
	if (got.Monitor.OnAlert != nil) != (s.alert != "") {
		t.Errorf("Monitor.OnAlert set: %v, want %v", got.Monitor.OnAlert != nil, s.alert != "")
	} else if got.Monitor.OnAlert != nil {
		got.Monitor.OnAlert(webhook.Alert{})
		if c.last() != s.alert {
			t.Errorf("Monitor.OnAlert called %q, want %q", c.last(), s.alert)
		}
	}
	p := webhook.Payload{Event: webhook.Created, Object: map[string]any{"id": "42", "status": "pending"}}
	for _, ep := range got.Endpoints {
		if (ep.Transform != nil) != s.transform[ep.Name] {
			t.Errorf("endpoint %q: Transform set: %v, want %v", ep.Name, ep.Transform != nil, s.transform[ep.Name])
			continue
		}
		if ep.Transform != nil {
			out, err := ep.Transform(p)
			want, _ := orderNotification(p)
			if err != nil || !reflect.DeepEqual(out, want) {
				t.Errorf("endpoint %q: Transform = %v, %v; want %v", ep.Name, out, err, want)
			}
		}
	}
}

// eachConfigSample runs check in a parallel subtest for each sample file,
// YAML and JSON, with the Config it loads to and the callbacks' record.
func eachConfigSample(t *testing.T, check func(t *testing.T, cfg webhook.Config, s configSample, c *cbCalls)) {
	for _, s := range configSamples() {
		for _, ext := range []string{".yaml", ".json"} {
			t.Run(s.file+ext, func(t *testing.T) {
				t.Parallel()
				var c cbCalls
				cfg, err := newLoader(&c, testEnv).Load(filepath.Join("testdata", "config", s.file+ext))
				if err != nil {
					t.Fatal(err)
				}
				check(t, cfg, s, &c)
			})
		}
	}
}

func TestLoadConfigSamples(t *testing.T) {
	t.Parallel()
	eachConfigSample(t, checkConfig)
}

// TestLoadConfigSamplesPassNew: what a valid file loads to is a Config New
// accepts.
func TestLoadConfigSamplesPassNew(t *testing.T) {
	t.Parallel()
	eachConfigSample(t, func(t *testing.T, cfg webhook.Config, _ configSample, _ *cbCalls) {
		closeEmitter(t, newEmitter(t, cfg), 5*time.Second)
	})
}

// TestLoadConfigPackageFunc: LoadConfig reads the process environment.
func TestLoadConfigPackageFunc(t *testing.T) {
	t.Setenv("ERP_WEBHOOK_SECRET", "from-the-environment")
	t.Setenv("ERP_API_KEY", "key-from-the-environment")
	t.Setenv("NOTIF_SECRET", "notif-from-the-environment")
	cfg, err := webhook.LoadConfig(filepath.Join("testdata", "config", "erp_sync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ep := cfg.Endpoints[0]; ep.Secret != "from-the-environment" || ep.Headers["X-API-Key"] != "key-from-the-environment" {
		t.Errorf("secret and header not taken from the environment: %v", ep)
	}
	// Names need a ConfigLoader.
	_, err = webhook.LoadConfig(filepath.Join("testdata", "config", "notifications.yaml"))
	want := `webhook: testdata/config/notifications.yaml:10: endpoints[0].transform: "order_notification" is not registered: ConfigLoader.Transforms is empty (LoadConfig cannot resolve names: use a ConfigLoader)`
	if err == nil || err.Error() != filepath.FromSlash(want) {
		t.Errorf("LoadConfig(notifications.yaml) error:\n got %v\nwant %s", err, want)
	}
}

// configErrors returns the *ConfigErrors in err, checking that every
// error joined in it is one and wraps ErrInvalidConfig.
func configErrors(t *testing.T, err error) []*webhook.ConfigError {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []*webhook.ConfigError
	for _, e := range errs {
		var ce *webhook.ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("error %T is not a *ConfigError: %v", e, e)
		}
		if !errors.Is(e, webhook.ErrInvalidConfig) {
			t.Fatalf("error does not wrap ErrInvalidConfig: %v", e)
		}
		out = append(out, ce)
	}
	return out
}

// parseErrors parses src in format with the test loader and returns the
// error messages.
func parseErrors(t *testing.T, format, src string) []string {
	t.Helper()
	var c cbCalls
	_, err := newLoader(&c, testEnv).Parse([]byte(src), format)
	var msgs []string
	for _, ce := range configErrors(t, err) {
		msgs = append(msgs, ce.Error())
	}
	if want := strings.Join(msgs, "\n"); err.Error() != want {
		t.Errorf("joined error %q, want %q", err.Error(), want)
	}
	return msgs
}

func parseOK(t *testing.T, format, src string) webhook.Config {
	t.Helper()
	var c cbCalls
	cfg, err := newLoader(&c, testEnv).Parse([]byte(src), format)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return cfg
}

const endpointHead = "endpoints:\n  - name: a\n    url: https://a.example.com/\n    secret: s\n"

func TestLoadConfigEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOST": "hooks.example.com", "SECRET": "env-secret-V3n5", "EMPTY": "", "N": "7"}
	tests := []struct {
		name, format, src string
		url, secret       string
		errs              []string
	}{
		{name: "plain", format: "yaml", src: "endpoints:\n  - url: https://${HOST}/in\n    secret: ${SECRET}\n",
			url: "https://hooks.example.com/in", secret: env["SECRET"]},
		{name: "quoted", format: "yaml", src: "endpoints:\n  - url: \"https://${HOST}/in\"\n    secret: '${SECRET}'\n",
			url: "https://hooks.example.com/in", secret: env["SECRET"]},
		{name: "json", format: "json", src: `{"endpoints": [{"url": "https://${HOST}/in", "secret": "${SECRET}"}]}`,
			url: "https://hooks.example.com/in", secret: env["SECRET"]},
		{name: "default unused", format: "yaml", src: "endpoints:\n  - url: https://${HOST:-other}/\n",
			url: "https://hooks.example.com/"},
		{name: "default used when unset", format: "yaml", src: "endpoints:\n  - url: https://${NOPE:-fallback.example.com}/\n",
			url: "https://fallback.example.com/"},
		{name: "default used when empty", format: "yaml", src: "endpoints:\n  - url: https://${EMPTY:-e.example.com}/\n",
			url: "https://e.example.com/"},
		{name: "empty default", format: "yaml", src: "endpoints:\n  - url: a${NOPE:-}b\n", url: "ab"},
		{name: "dollars", format: "yaml", src: "endpoints:\n  - url: a$$b$${HOST}c$d$\n", url: "a$b${HOST}c$d$"},
		{name: "unset", format: "yaml", src: "endpoints:\n  - url: https://x/\n    secret: ${NOPE}\n",
			errs: []string{"webhook: line 3: endpoints[0].secret: environment variable NOPE is not set"}},
		{name: "unset in json", format: "json", src: "{\"endpoints\": [{\n  \"secret\": \"${NOPE}\"}]}",
			errs: []string{"webhook: line 2: endpoints[0].secret: environment variable NOPE is not set"}},
		{name: "empty", format: "yaml", src: "timeout_seconds: ${EMPTY}\n",
			errs: []string{"webhook: line 1: timeout_seconds: environment variable EMPTY is empty (write ${EMPTY:-} to allow an empty value)"}},
		{name: "unterminated", format: "yaml", src: "endpoints:\n  - url: https://${HOST/\n",
			errs: []string{"webhook: line 2: endpoints[0].url: unterminated ${ (a literal $ is written $$)"}},
		{name: "bad name", format: "yaml", src: "endpoints:\n  - url: ${A B}\n",
			errs: []string{`webhook: line 2: endpoints[0].url: invalid reference "${A B}": want ${NAME} or ${NAME:-default} (a literal $ is written $$)`}},
		{name: "other form", format: "yaml", src: "endpoints:\n  - url: ${HOST:?no}\n",
			errs: []string{`webhook: line 2: endpoints[0].url: invalid reference "${HOST:?no}": want ${NAME} or ${NAME:-default} (a literal $ is written $$)`}},
		{name: "number from env", format: "json", src: `{"max_retries": "${N}", "timeout_seconds": "${T:-2.5}"}`},
		{name: "keys are not expanded", format: "yaml", src: "${HOST}: 1\n",
			errs: []string{`webhook: line 1: ["${HOST}"]: unknown key`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &webhook.ConfigLoader{LookupEnv: lookupIn(env)}
			cfg, err := l.Parse([]byte(tt.src), tt.format)
			if tt.errs != nil {
				var got []string
				for _, ce := range configErrors(t, err) {
					got = append(got, ce.Error())
				}
				for i, want := range tt.errs {
					if i >= len(got) || !strings.HasPrefix(got[i], want) {
						t.Errorf("errors:\n got %q\nwant %q", got, tt.errs)
						break
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.url != "" || tt.secret != "" {
				if ep := cfg.Endpoints[0]; ep.URL != tt.url || ep.Secret != tt.secret {
					t.Errorf("url %q secret %q, want %q and %q", ep.URL, ep.Secret, tt.url, tt.secret)
				}
			}
			if tt.name == "number from env" && (cfg.Retry.MaxRetries != 7 || cfg.Timeout != 2500*time.Millisecond) {
				t.Errorf("max_retries %d timeout %v, want 7 and 2.5s", cfg.Retry.MaxRetries, cfg.Timeout)
			}
		})
	}
}

// TestLoadConfigErrorInFile: the error of the brief's example, from a file.
func TestLoadConfigErrorInFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.yaml")
	src := `# Webhook settings
enabled: true
timeout_seconds: 10

endpoints:
  - name: crm
    url: https://crm.example.com/api/webhooks/
    secret: secret_crm_123

  - name: analytics
    url: https://analytics.example.com/events/
    timeout_seconds: abc
    secret: secret_analytics_456
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := (&webhook.ConfigLoader{}).Load(path)
	want := "webhook: " + path + `:12: endpoints[1].timeout_seconds: want a number, got "abc"`
	if err == nil || err.Error() != want {
		t.Fatalf("Load error:\n got %v\nwant %s", err, want)
	}
	ces := configErrors(t, err)
	if ce := ces[0]; ce.File != path || ce.Line != 12 || ce.Key != "endpoints[1].timeout_seconds" {
		t.Errorf("ConfigError = %+v", *ce)
	}
}

func TestLoadConfigUnknownKeys(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"typo", endpointHead + "    timeout: 5\n",
			`webhook: line 5: endpoints[0].timeout: unknown key; did you mean "timeout_seconds"?`},
		{"misspelt", endpointHead + "    incude_models: [a.B]\n",
			`webhook: line 5: endpoints[0].incude_models: unknown key; did you mean "include_models"?`},
		{"top level", "enabeld: true\n", `webhook: line 1: enabeld: unknown key; did you mean "enabled"?`},
		{"endpoint key at top level", "url: https://x/\n",
			`webhook: line 1: url: unknown key: "url" is an endpoint's setting: put it in an item of endpoints`},
		{"top-level key in endpoint", endpointHead + "    on_failure: log\n",
			`webhook: line 5: endpoints[0].on_failure: unknown key: "on_failure" is a top-level setting, not an endpoint's`},
		{"retry key in endpoint", endpointHead + "    max_retries: 5\n",
			`webhook: line 5: endpoints[0].max_retries: unknown key: "max_retries" belongs in the endpoint's retry_config`},
		{"auth key in endpoint", endpointHead + "    client_id: x\n",
			`webhook: line 5: endpoints[0].client_id: unknown key: "client_id" belongs in the endpoint's auth`},
		{"wrapper", "RAIL_DJANGO_WEBHOOKS:\n  enabled: true\n",
			`webhook: line 1: RAIL_DJANGO_WEBHOOKS: unknown key: the file holds the settings themselves: remove this wrapper key and unindent what it holds`},
		{"nested", "retry_config:\n  retry_delay_seconds: 5\n",
			`webhook: line 2: retry_config.retry_delay_seconds: unknown key: in retry_config it is "retry_delay" (in seconds)`},
		{"monitoring", "monitoring:\n  enabled: true\n  alert_on_failures: 3\n",
			`webhook: line 3: monitoring.alert_on_failures: unknown key (want one of enabled, alert_on_consecutive_failures, alert_callback)`},
		{"auth", endpointHead + "    auth:\n      type: oauth2\n      scoep: x\n",
			`webhook: line 7: endpoints[0].auth.scoep: unknown key; did you mean "scope"?`},
		{"far from any", "zzzzzzzzzz: 1\n", `webhook: line 1: zzzzzzzzzz: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parseErrors(t, "yaml", tt.src)
			if !slices.Contains(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadConfigWrongTypes(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, format, src, want string }{
		{"bool", "yaml", "enabled: maybe\n", `webhook: line 1: enabled: want true or false, got "maybe"`},
		{"bool 1.1", "yaml", "enabled: yes\n", `webhook: line 1: enabled: "yes": YAML 1.1 readers (PyYAML) read it as a boolean, YAML 1.2 readers as text: write true or false, or quote it`},
		{"integer", "yaml", "workers: 1.5\n", `webhook: line 1: workers: want an integer, got "1.5"`},
		{"integer range", "yaml", "queue_size: '99999999999999999999'\n", `webhook: line 1: queue_size: "99999999999999999999" is out of range`},
		{"number", "yaml", "timeout_seconds: 30s\n", `webhook: line 1: timeout_seconds: want a number, got "30s"`},
		{"duration range", "yaml", "timeout_seconds: 1000000000000\n", `webhook: line 1: timeout_seconds: out of range: want at most 9223372036 seconds`},
		{"number from env", "yaml", "timeout_seconds: ${NOTIF_SECRET}\n", `webhook: line 1: timeout_seconds: want a number, got "${NOTIF_SECRET}" (as expanded)`},
		{"mapping for number", "yaml", "timeout_seconds:\n  a: 1\n", `webhook: line 1: timeout_seconds: want a number, got a mapping`},
		{"list", "yaml", endpointHead + "    events: created\n", `webhook: line 5: endpoints[0].events: want a list of strings, got "created"`},
		{"list item", "yaml", endpointHead + "    events: [created, [x]]\n", `webhook: line 5: endpoints[0].events[1]: want a string, got a list`},
		{"int list", "yaml", "retry_config:\n  retry_on_status: [500, five]\n", `webhook: line 2: retry_config.retry_on_status[1]: want an integer, got "five"`},
		{"endpoints", "yaml", "endpoints:\n  name: a\n", `webhook: line 1: endpoints: want a list of endpoints, got a mapping`},
		{"endpoint", "yaml", "endpoints:\n  - https://x/\n", `webhook: line 2: endpoints[0]: want a mapping, got "https://x/"`},
		{"empty endpoint", "yaml", "endpoints:\n  -\n", `webhook: line 2: endpoints[0]: empty endpoint: want a mapping with name, url and secret`},
		{"headers", "yaml", endpointHead + "    headers: [a]\n", `webhook: line 5: endpoints[0].headers: want a mapping of names to strings, got a list`},
		{"header value", "yaml", endpointHead + "    headers:\n      X-A: ~\n", `webhook: line 6: endpoints[0].headers.X-A: want a string, got null`},
		{"fields", "yaml", endpointHead + "    include_fields: id\n", `webhook: line 5: endpoints[0].include_fields: want a list of field names, or a mapping from model label (or "*") to such a list, got "id"`},
		{"fields per model", "yaml", endpointHead + "    exclude_fields:\n      store.Order: id\n", `webhook: line 6: endpoints[0].exclude_fields["store.Order"]: want a list of field names, got "id"`},
		{"redact", "yaml", endpointHead + "    redact_fields: [a]\n", `webhook: line 5: endpoints[0].redact_fields: want a mapping from model label (or "*") to {field: replacement}, or from field to replacement, got a list`},
		{"time", "yaml", endpointHead + "    previous_secret_until: tomorrow\n", `webhook: line 5: endpoints[0].previous_secret_until: want an RFC 3339 time such as "2026-03-01T00:00:00Z", got "tomorrow"`},
		{"monitoring", "yaml", "monitoring: true\n", `webhook: line 1: monitoring: want a mapping, got "true"`},
		{"root", "yaml", "- a\n", `webhook: line 1: want a mapping, got a list`},
		{"empty file", "yaml", "# nothing\n", `webhook: line 2: the file holds no settings: want a mapping such as {endpoints: [...]}`},
		{"json bool", "json", "{\n\"https_only\": \"yes\"}", `webhook: line 2: https_only: want true or false, got "yes"`},
		{"json number", "json", "{\"endpoints\": [{}, {\n  \"timeout_seconds\": \"abc\"}]}", `webhook: line 2: endpoints[1].timeout_seconds: want a number, got "abc"`},
		{"json list", "json", `{"endpoints": {"name": "a"}}`, `webhook: line 1: endpoints: want a list of endpoints, got a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parseErrors(t, tt.format, tt.src)
			if !slices.Contains(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadConfigSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, format, src, want string }{
		{"anchor", "yaml", "endpoints:\n  - &a {name: x}\n", "webhook: line 2, column 5: anchors (&) are not supported"},
		{"alias", "yaml", "a: 1\nb: *a\n", "webhook: line 2, column 4: aliases (*) are not supported"},
		{"tag", "yaml", "enabled: !!bool true\n", "webhook: line 1, column 10: tags (!) are not supported"},
		{"block scalar", "yaml", "endpoints:\n  - secret: |\n      abc\n", "webhook: line 2, column 13: block scalars (| and >) are not supported"},
		{"documents", "yaml", "enabled: true\n---\nenabled: false\n", "webhook: line 2, column 1: a second document: multiple documents are not supported"},
		{"tab", "yaml", "endpoints:\n\t- name: a\n", "webhook: line 2, column 1: tab character used for indentation (indent with spaces)"},
		{"duplicate", "yaml", "enabled: true\nenabled: false\n", `webhook: line 2, column 1: duplicate key "enabled" (first at line 1)`},
		{"duplicate json", "json", "{\"enabled\": true,\n \"enabled\": false}", `webhook: line 2, column 2: duplicate key "enabled" (first at line 1)`},
		{"json", "json", "{\"enabled\": tru}", "webhook: line 1, column 1"},
		{"unquoted reference in flow", "yaml", "endpoints: [{name: a, secret: ${S}}]", "webhook: line 1, column 31: a ${...} reference in a flow collection ([...] or {...}) must be quoted"},
		{"format", "toml", "", `webhook: config format "toml" unknown (want "json" or "yaml")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parseErrors(t, tt.format, tt.src)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestLoadConfigErrorsJoined: every problem is reported, in line order,
// each a *ConfigError wrapping ErrInvalidConfig.
func TestLoadConfigErrorsJoined(t *testing.T) {
	t.Parallel()
	src := `endpoints:
  - name: a
    url: https://a/
    secret: s
    timeout_seconds: soon
    events: created
  - name: b
    colour: blue
workers: many
async_backend: celery
`
	got := parseErrors(t, "yaml", src)
	want := []string{
		`webhook: line 5: endpoints[0].timeout_seconds: want a number, got "soon"`,
		`webhook: line 6: endpoints[0].events: want a list of strings, got "created"`,
		`webhook: line 8: endpoints[1].colour: unknown key`,
		`webhook: line 9: workers: want an integer, got "many"`,
		`webhook: line 10: async_backend: "celery" is a Python task queue`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

// TestLoadConfigSecretsNeverInErrors: secrets (secret, previous_secret,
// auth.client_secret, header values) and values from the environment do
// not appear in error messages, whatever is wrong around them.
func TestLoadConfigSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	secrets := []string{"lit-secret-A1", "lit-prev-B2", "lit-client-C3", "lit-header-D4"}
	env := map[string]string{"S": "env-secret-E5", "T": "env-token-F6"}
	yamlSrcs := []string{
		// Wrong types around and of every secret.
		`endpoints:
  - name: a
    url: https://a/
    secret: [lit-secret-A1]
    previous_secret: {x: lit-prev-B2}
    headers:
      Authorization: [Bearer lit-header-D4]
      X-Key: {v: lit-header-D4}
    auth:
      type: basic
      client_secret: [lit-client-C3]
  - name: b
    secret: lit-secret-A1
    previous_secret: lit-prev-B2
    timeout_seconds: soon
    headers: {X-Token: "${T}", X-Bad: "${lit-header-D4}"}
    auth: {client_secret: "${lit-client-C3", scope: "${T}"}
    enabled: ${S}
  - name: c
    secret: "lit-secret-A1${"
    previous_secret: "${lit-prev-B2}"
    transform: ${S}
    scheme: ${T}
on_failure: ${S}
failure_callback: ${T}
async_backend: ${S}
timeout_seconds: ${T}
`,
		// Syntax errors next to secrets.
		"endpoints:\n  - secret: \"lit-secret-A1\\q\"\n",
		"endpoints:\n  - secret: \"lit-secret-A1\n",
		"endpoints:\n  - secret: [lit-secret-A1\n",
		"endpoints:\n  - secret: lit-secret-A1: x\n",
		"endpoints:\n  - secret: 'lit-secret-A1' x\n",
		"endpoints:\n  - headers: {X-A: lit-header-D4 lit-header-D4 [}\n",
	}
	jsonSrcs := []string{
		`{"endpoints": [{"secret": ["lit-secret-A1"], "previous_secret": 5, "headers": {"X": {"a": "lit-header-D4"}},
		  "auth": {"type": "x", "client_secret": {"v": "lit-client-C3"}}, "timeout_seconds": "${S}", "max_retries": 1}],
		  "workers": "${T}"}`,
		`{"endpoints": [{"secret": "lit-secret-A1" "x"}]}`,
		`{"endpoints": [{"secret": "lit-secret-A1\q"}]}`,
	}
	check := func(format, src string) {
		l := &webhook.ConfigLoader{LookupEnv: lookupIn(env)}
		_, err := l.Parse([]byte(src), format)
		if err == nil {
			t.Errorf("Parse(%s) succeeded:\n%s", format, src)
			return
		}
		msg := err.Error()
		for _, s := range append(slices.Clone(secrets), env["S"], env["T"]) {
			if strings.Contains(msg, s) {
				t.Errorf("error holds %q:\n%s", s, msg)
			}
		}
	}
	for _, src := range yamlSrcs {
		check("yaml", src)
	}
	for _, src := range jsonSrcs {
		check("json", src)
	}
	// The first file has many problems, all reported.
	l := &webhook.ConfigLoader{LookupEnv: lookupIn(env)}
	_, err := l.Parse([]byte(yamlSrcs[0]), "yaml")
	if n := len(configErrors(t, err)); n < 15 {
		t.Errorf("%d errors, want every problem reported:\n%v", n, err)
	}
}

func TestLoadConfigFieldForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src      string
		include        map[string][]string
		exclude        map[string][]string
		redact         map[string]map[string]any
		format, errMsg string
	}{
		{name: "lists mean every model",
			src:     "    include_fields: [id, total]\n    exclude_fields:\n      - customer.ssn\n",
			include: map[string][]string{"*": {"id", "total"}}, exclude: map[string][]string{"*": {"customer.ssn"}}},
		{name: "per model",
			src:     "    include_fields:\n      store.Order: [id]\n      \"*\": [id, name]\n    exclude_fields: {store.Customer: [ssn], '*': [password]}\n",
			include: map[string][]string{"store.Order": {"id"}, "*": {"id", "name"}},
			exclude: map[string][]string{"store.Customer": {"ssn"}, "*": {"password"}}},
		{name: "empty list", src: "    include_fields: []\n", include: map[string][]string{"*": {}}},
		{name: "redact per model",
			src:    "    redact_fields:\n      store.Customer: {email: \"***\", age: 0, vip: false, note: ~}\n",
			redact: map[string]map[string]any{"store.Customer": {"email": "***", "age": int64(0), "vip": false, "note": nil}}},
		{name: "redact flat means every model",
			src:    "    redact_fields:\n      password: \"[redacted]\"\n      score: 1.5\n",
			redact: map[string]map[string]any{"*": {"password": "[redacted]", "score": 1.5}}},
		{name: "redact mixed",
			src:    "    redact_fields:\n      password: x\n      \"*\": {token: z}\n      store.A: {b: [1, \"2\"]}\n",
			redact: map[string]map[string]any{"*": {"password": "x", "token": "z"}, "store.A": {"b": []any{int64(1), "2"}}}},
		{name: "redact json", format: "json",
			src:    `{"endpoints": [{"redact_fields": {"store.A": {"n": 12, "s": "12", "o": {"k": null}}, "pw": "***"}}]}`,
			redact: map[string]map[string]any{"store.A": {"n": int64(12), "s": "12", "o": map[string]any{"k": nil}}, "*": {"pw": "***"}}},
		{name: "redact field with an object replacement",
			src:    "    redact_fields:\n      card: {number: \"****\"}\n      ssn: x\n",
			redact: map[string]map[string]any{"*": {"card": map[string]any{"number": "****"}, "ssn": "x"}}},
		// "billing.card" could be a model or a dotted field path: read as a
		// model, the card number would be sent.
		{name: "redact ambiguous dotted key",
			src:    "    redact_fields:\n      billing.card: {number: \"****\"}\n",
			errMsg: `webhook: line 6: endpoints[0].redact_fields["billing.card"]: ambiguous: a model label with a lowercase model name, or a field whose replacement is an object? Write a model as "app.Model" (the model name capitalised, as Django and Go models are), and a field with an object replacement under "*" or its model: {"*": {"billing.card": {…}}}`},
		{name: "redact dotted field with an object replacement under its model",
			src:    "    redact_fields:\n      billing.Invoice: {billing.card: {number: \"****\"}}\n",
			redact: map[string]map[string]any{"billing.Invoice": {"billing.card": map[string]any{"number": "****"}}}},
		{name: "redact conflict",
			src:    "    redact_fields:\n      \"*\": {password: x}\n      password: y\n",
			errMsg: `webhook: line 7: endpoints[0].redact_fields.password: also set under endpoints[0].redact_fields["*"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, format := endpointHead+tt.src, "yaml"
			if tt.format != "" {
				src, format = tt.src, tt.format
			}
			if tt.errMsg != "" {
				got := parseErrors(t, format, src)
				if !slices.Contains(got, tt.errMsg) {
					t.Errorf("errors:\n got %q\nwant %q", got, tt.errMsg)
				}
				return
			}
			ep := parseOK(t, format, src).Endpoints[0]
			if !reflect.DeepEqual(ep.IncludeFields, tt.include) {
				t.Errorf("IncludeFields = %#v, want %#v", ep.IncludeFields, tt.include)
			}
			if !reflect.DeepEqual(ep.ExcludeFields, tt.exclude) {
				t.Errorf("ExcludeFields = %#v, want %#v", ep.ExcludeFields, tt.exclude)
			}
			if !reflect.DeepEqual(ep.RedactFields, tt.redact) {
				t.Errorf("RedactFields = %#v, want %#v", ep.RedactFields, tt.redact)
			}
		})
	}
}

func TestLoadConfigRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		top, ep   *webhook.RetryConfig
		errMsg    string
	}{
		{name: "none: seed defaults", src: endpointHead},
		{name: "delay only keeps 3 retries", src: "retry_delay_seconds: 10\n" + endpointHead,
			top: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 10 * time.Second}},
		{name: "zero retries", src: "max_retries: 0\n" + endpointHead, top: &webhook.RetryConfig{}},
		{name: "endpoint retry_config without max_retries keeps 3",
			src: endpointHead + "    retry_config: {backoff_factor: 3}\n",
			ep:  &webhook.RetryConfig{MaxRetries: 3, BackoffFactor: 3}},
		{name: "endpoint inherits the top level",
			src: "max_retries: 7\nretry_delay_seconds: 1.5\n" + endpointHead + "    retry_config:\n      retry_on_status: [503]\n",
			top: &webhook.RetryConfig{MaxRetries: 7, RetryDelay: 1500 * time.Millisecond},
			ep:  &webhook.RetryConfig{MaxRetries: 7, RetryDelay: 1500 * time.Millisecond, RetryOnStatus: []int{503}}},
		{name: "top-level keys and retry_config merge",
			src: "max_retries: 2\nretry_config:\n  max_delay: 90\n  no_jitter: true\n" + endpointHead,
			top: &webhook.RetryConfig{MaxRetries: 2, MaxDelay: 90 * time.Second, NoJitter: true}},
		{name: "conflict",
			src:    "max_retries: 2\nretry_config:\n  max_retries: 4\n",
			errMsg: "webhook: line 3: retry_config.max_retries: also set by max_retries (line 1): keep one"},
		{name: "delay conflict",
			src:    "retry_config:\n  retry_delay: 4\nretry_delay_seconds: 2\n",
			errMsg: "webhook: line 2: retry_config.retry_delay: also set by retry_delay_seconds (line 3): keep one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.errMsg != "" {
				got := parseErrors(t, "yaml", tt.src)
				if !slices.Contains(got, tt.errMsg) {
					t.Errorf("errors:\n got %q\nwant %q", got, tt.errMsg)
				}
				return
			}
			cfg := parseOK(t, "yaml", tt.src)
			if !reflect.DeepEqual(cfg.Retry, tt.top) {
				t.Errorf("Config.Retry = %+v, want %+v", cfg.Retry, tt.top)
			}
			if len(cfg.Endpoints) > 0 && !reflect.DeepEqual(cfg.Endpoints[0].Retry, tt.ep) {
				t.Errorf("Endpoint.Retry = %+v, want %+v", cfg.Endpoints[0].Retry, tt.ep)
			}
		})
	}
}

// TestLoadConfigRetryConflictsOrdered: settings repeated in retry_config
// on one line are reported in the same order every time (not the order of
// a map's iteration).
func TestLoadConfigRetryConflictsOrdered(t *testing.T) {
	t.Parallel()
	src := "max_retries: 2\nretry_delay_seconds: 3\nretry_config: {max_retries: 4, retry_delay: 5}\n"
	want := []string{
		"webhook: line 3: retry_config.max_retries: also set by max_retries (line 1): keep one",
		"webhook: line 3: retry_config.retry_delay: also set by retry_delay_seconds (line 2): keep one",
	}
	for range 50 {
		if got := parseErrors(t, "yaml", src); !slices.Equal(got, want) {
			t.Fatalf("errors:\n got %q\nwant %q", got, want)
		}
	}
}

func TestLoadConfigDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		sync      bool
		failure   bool
		errMsg    string
	}{
		{name: "async by default", src: "enabled: true\n"},
		{name: "async_delivery false", src: "async_delivery: false\n", sync: true},
		{name: "raise", src: "on_failure: raise\n", sync: true},
		{name: "raise and async false", src: "async_delivery: false\non_failure: raise\n", sync: true},
		{name: "raise and async true", src: "async_delivery: true\non_failure: raise\n",
			errMsg: `webhook: line 2: on_failure: "raise" delivers inside Emit and returns its error, but async_delivery is true (line 1): set async_delivery: false, or remove it`},
		{name: "log", src: "on_failure: log\n"},
		{name: "callback", src: "on_failure: callback\nfailure_callback: ops.page\n", failure: true},
		{name: "callback implied", src: "failure_callback: ops.page\n", failure: true},
		{name: "callback missing", src: "on_failure: callback\n",
			errMsg: `webhook: line 1: on_failure: "callback" needs failure_callback: the name of a function registered in ConfigLoader.OnFailure`},
		{name: "callback unknown", src: "on_failure: callback\nfailure_callback: myapp.nope\n",
			errMsg: `webhook: line 2: failure_callback: "myapp.nope" is not registered in ConfigLoader.OnFailure (registered: myapp.webhooks.on_webhook_failed, ops.page)`},
		{name: "callback with log", src: "on_failure: log\nfailure_callback: ops.page\n",
			errMsg: `webhook: line 2: failure_callback: set, but on_failure is "log" (line 1): set on_failure: callback`},
		{name: "on_failure unknown", src: "on_failure: email\n",
			errMsg: `webhook: line 1: on_failure: want "log", "raise" or "callback", got "email"`},
		{name: "memory backend", src: "async_backend: memory\nqueue: \"\"\n"},
		{name: "celery", src: "async_backend: celery\n",
			errMsg: `webhook: line 1: async_backend: "celery" is a Python task queue; in Go, deliveries are queued in memory by default, and a durable queue (such as River on PostgreSQL) is set in code through Config.Queue: remove this key or set it to "memory"`},
		{name: "dramatiq", src: "async_backend: dramatiq\n", errMsg: `webhook: line 1: async_backend: "dramatiq" is a Python task queue`},
		{name: "django_q", src: "async_backend: django_q\n", errMsg: `webhook: line 1: async_backend: "django_q" is a Python task queue`},
		{name: "unknown backend", src: "async_backend: redis\n",
			errMsg: `webhook: line 1: async_backend: unknown backend "redis": want "memory" (a durable queue is set in code through Config.Queue)`},
		{name: "queue", src: "async_backend: celery\nqueue: webhooks\n",
			errMsg: `webhook: line 2: queue: a queue name needs a durable backend, which a file cannot name: set Config.Queue in code and remove this key`},
		{name: "monitoring needs a threshold", src: "monitoring:\n  enabled: true\n",
			errMsg: `webhook: line 1: monitoring: alert_on_consecutive_failures is required while monitoring is enabled`},
		{name: "monitoring disabled", src: "monitoring: {enabled: false, alert_on_consecutive_failures: 0}\n"},
		{name: "alert callback unknown", src: "monitoring: {alert_on_consecutive_failures: 2, alert_callback: x}\n",
			errMsg: `webhook: line 1: monitoring.alert_callback: "x" is not registered in ConfigLoader.OnAlert (registered: myapp.monitoring.webhook_alert, ops.alert)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.errMsg != "" {
				got := parseErrors(t, "yaml", tt.src)
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, tt.errMsg)
				}
				if !found {
					t.Errorf("errors:\n got %q\nwant %q", got, tt.errMsg)
				}
				return
			}
			cfg := parseOK(t, "yaml", tt.src)
			if cfg.Sync != tt.sync || (cfg.OnFailure != nil) != tt.failure {
				t.Errorf("Sync %v OnFailure set %v, want %v and %v", cfg.Sync, cfg.OnFailure != nil, tt.sync, tt.failure)
			}
		})
	}
}

func TestLoadConfigAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      *webhook.OAuth2
		errMsg    string
	}{
		{name: "scope", src: "      type: oauth2\n      client_id: id\n      token_url: https://t/\n      scope: \"a b  c\"\n",
			want: &webhook.OAuth2{ClientID: "id", TokenURL: "https://t/", Scopes: []string{"a", "b", "c"}}},
		{name: "scopes", src: "      type: oauth2\n      scopes: [a, b]\n      endpoint_params: {audience: x}\n",
			want: &webhook.OAuth2{Scopes: []string{"a", "b"}, EndpointParams: map[string][]string{"audience": {"x"}}}},
		{name: "both", src: "      type: oauth2\n      scope: a\n      scopes: [b]\n",
			errMsg: "webhook: line 8: endpoints[0].auth.scopes: set together with scope (line 7): keep one"},
		{name: "no type", src: "      client_id: x\n",
			errMsg: `webhook: line 5: endpoints[0].auth: type is required: "oauth2" (the client-credentials grant)`},
		{name: "other type", src: "      type: basic\n",
			errMsg: `webhook: line 6: endpoints[0].auth.type: "basic" not supported: the only type is "oauth2" (for a static token, set headers: {Authorization: "Bearer …"})`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := endpointHead + "    auth:\n" + tt.src
			if tt.errMsg != "" {
				got := parseErrors(t, "yaml", src)
				if !slices.Contains(got, tt.errMsg) {
					t.Errorf("errors:\n got %q\nwant %q", got, tt.errMsg)
				}
				return
			}
			if got := parseOK(t, "yaml", src).Endpoints[0].OAuth2; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("OAuth2 = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigFiles(t *testing.T) {
	t.Parallel()
	_, err := webhook.LoadConfig("webhooks.toml")
	if err == nil || err.Error() != `webhook: webhooks.toml: unknown file extension ".toml" (want .json, .yaml or .yml)` || !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("LoadConfig(.toml) = %v", err)
	}
	_, err = webhook.LoadConfig(filepath.Join(t.TempDir(), "missing.yml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("LoadConfig(missing) = %v, want fs.ErrNotExist", err)
	}
	// .yml and upper-case extensions are YAML; syntax errors name the file,
	// line and column.
	path := filepath.Join(t.TempDir(), "Hooks.YML")
	if err := os.WriteFile(path, []byte("enabled: true\nworkers: &w 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = webhook.LoadConfig(path)
	if want := "webhook: " + path + ":2:10: anchors (&) are not supported"; err == nil || err.Error() != want {
		t.Errorf("LoadConfig(%s) error:\n got %v\nwant %s", path, err, want)
	}
	// An empty JSON object is the zero Config.
	cfg, err := (&webhook.ConfigLoader{}).Parse([]byte("{}"), "json")
	if err != nil || !reflect.DeepEqual(cfg, webhook.Config{}) {
		t.Errorf("Parse({}) = %+v, %v; want the zero Config", cfg, err)
	}
	// A nil *ConfigLoader works as the zero one.
	var l *webhook.ConfigLoader
	if _, err := l.Parse([]byte("enabled: false"), "yaml"); err != nil {
		t.Errorf("nil loader: %v", err)
	}
}

// FuzzLoadConfig: Parse never panics on any input, in either format;
// every error it returns is a *ConfigError wrapping ErrInvalidConfig, and
// none holds a value taken from the environment.
func FuzzLoadConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "*"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "{}", "enabled: false", endpointHead + "    timeout_seconds: ${EMPTY:-1}\n",
		"endpoints: [{name: a, secret: ${FUZZ_SECRET}, events: [created]}]",
		`{"endpoints": [{"redact_fields": {"a": 1, "b.C": {"d": [1, null]}}}]}`,
		"on_failure: raise\nasync_delivery: true\nmonitoring: {enabled: true}\n",
		"timeout_seconds: 010\nworkers: 1e3\nhttps_only: yes\n404: x\n",
		"endpoints:\n\t- secret: 0x1F\n",
		"{\"endpoints\": [{\"secret\": \"\\ud800\", \"headers\": {\"X\": \"\xff\"}}]}",
		endpointHead + "    redact_fields: {a: \"${NOPE:-$$x}\", b: \"${NOPE:-${X}}\"}\n",
	} {
		f.Add([]byte(s))
	}
	env := mergeEnv(testEnv, map[string]string{"FUZZ_SECRET": "fuzz-env-value-7f3a"})
	var c cbCalls
	l := newLoader(&c, env)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"yaml", "json"} {
			_, err := l.Parse(data, format)
			if err == nil {
				continue
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				var ce *webhook.ConfigError
				if !errors.As(e, &ce) || !errors.Is(e, webhook.ErrInvalidConfig) {
					t.Fatalf("%s: error %T is not a *ConfigError wrapping ErrInvalidConfig: %v", format, e, e)
				}
			}
			msg := err.Error()
			if strings.Contains(msg, "internal error") {
				t.Fatalf("%s: %v", format, err)
			}
			for _, v := range env {
				if len(v) >= 8 && strings.Contains(msg, v) && !strings.Contains(string(data), v) {
					t.Fatalf("%s: error holds the value of an environment variable (%q): %v", format, v, err)
				}
			}
		}
	})
}

func mergeEnv(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
