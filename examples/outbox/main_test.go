package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// postgresEnv names the variable that holds the test PostgreSQL's URL, as
// in the rest of the repository.
const postgresEnv = "WEBHOOK_TEST_POSTGRES_URL"

func TestOutboxSQLite(t *testing.T) {
	t.Setenv("OUTBOX_POSTGRES_URL", "") // SQLite, whatever the environment says
	checkRun(t, nil)
}

func TestOutboxPostgres(t *testing.T) {
	url := os.Getenv(postgresEnv)
	if url == "" {
		t.Skipf("%s is not set: the PostgreSQL run needs a database (e.g. %s=postgres://postgres@127.0.0.1:5432/test)", postgresEnv, postgresEnv)
	}
	checkRun(t, []string{"-postgres", url})
}

func TestBadArguments(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"extra"}, &out); err == nil {
		t.Fatal("run accepted an unexpected argument")
	}
}

// checkRun runs the program with args and checks that it succeeded and
// said so.
func checkRun(t *testing.T, args []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, args, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{
		"rolled back, webhook evt_order_1002_v2 with it",
		"webhook evt_order_1002_v2 never arrived",
		"delivery log: 4 delivered of 4",
		"OK:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if n := strings.Count(out.String(), "(signature ok)"); n != 4 {
		t.Errorf("the receiver verified %d webhooks, want 4", n)
	}
}
