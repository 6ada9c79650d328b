package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestScenario runs the program's scenario: every check it makes must pass.
func TestScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{
		"DELETE /webhooks/endpoints/acme-1 -> 404",
		"PATCH /webhooks/endpoints/acme-1 -> 200",
		"DELETE /webhooks/endpoints/initech-1 -> 204",
		"delivery log: 22 delivered, 0 failed; 22 deliveries expected",
		"OK:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if n := strings.Count(out.String(), "check: each receiver got exactly the events meant for it"); n != 2 {
		t.Errorf("%d phases checked, want 2", n)
	}
}
