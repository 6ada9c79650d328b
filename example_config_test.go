package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hookrail/webhook"
)

// ExampleLoadConfig loads the seed's settings from a YAML file. Secrets
// stay out of the file: ${VAR} takes them from the environment, here a
// map given to a ConfigLoader so that the example is deterministic
// (LoadConfig itself reads the process environment).
func ExampleLoadConfig() {
	dir, err := os.MkdirTemp("", "webhook-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "webhooks.yaml")
	err = os.WriteFile(path, []byte(`
enabled: true
endpoints:
  - name: crm
    url: https://crm.example.com/api/webhooks/
    secret: ${CRM_SECRET}
    include_models: [store.Customer, store.Order]
    events: [created, updated]
  - name: analytics
    url: ${ANALYTICS_URL:-https://analytics.example.com/events/}
    secret: ${ANALYTICS_SECRET}
    include_fields: [id, total, status, created_at]
async_delivery: true
timeout_seconds: 30
max_retries: 3
retry_delay_seconds: 60
`), 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}

	env := map[string]string{"CRM_SECRET": "crm-secret", "ANALYTICS_SECRET": "analytics-secret"}
	loader := webhook.ConfigLoader{
		LookupEnv: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
	}
	cfg, err := loader.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ep := range cfg.Endpoints {
		fmt.Println(ep.Name, ep.URL, ep.Events, ep.Secret != "")
	}
	fmt.Println("timeout:", cfg.Timeout, "retries:", cfg.Retry.MaxRetries, "first delay:", cfg.Retry.RetryDelay)

	emitter, err := webhook.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emitter.Close(context.Background())

	// Without ANALYTICS_SECRET the file does not load: an unset variable
	// is an error naming the key and its line, never an empty secret.
	delete(env, "ANALYTICS_SECRET")
	_, err = loader.Load(path)
	var ce *webhook.ConfigError
	if errors.As(err, &ce) {
		fmt.Printf("line %d: %s: %s\n", ce.Line, ce.Key, ce.Msg)
	}
	fmt.Println(errors.Is(err, webhook.ErrInvalidConfig))
	// Output:
	// crm https://crm.example.com/api/webhooks/ [created updated] true
	// analytics https://analytics.example.com/events/ [] true
	// timeout: 30s retries: 3 first delay: 1m0s
	// line 11: endpoints[1].secret: environment variable ANALYTICS_SECRET is not set
	// true
}
