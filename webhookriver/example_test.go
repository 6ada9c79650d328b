package webhookriver_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// Order is the host's model.
type Order struct {
	ID     int    `json:"id"`
	Status string `json:"status"`
}

// An order's change and its webhook in one transaction, on SQLite: the
// webhook is stored with the change, and sent once it commits.
func ExampleQueue_EmitTx() {
	ctx := context.Background()
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify("whsec_example_secret", r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- r.Header.Get(webhook.HeaderEventID)
	}))
	defer receiver.Close()

	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "shop.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1) // SQLite has one writer
	defer db.Close()

	driver := riversqlite.New(db)
	if err := webhookriver.Migrate(ctx, driver); err != nil {
		log.Fatal(err)
	}
	queue, err := webhookriver.New(driver, webhookriver.Config{FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "crm", URL: receiver.URL, Secret: "whsec_example_secret"}},
		Queue:     queue,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer emitter.Close(ctx)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)`); err != nil {
		log.Fatal(err)
	}
	order := Order{ID: 1001, Status: "paid"}
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, status) VALUES (?, ?)`, order.ID, order.Status); err != nil {
		log.Fatal(err)
	}
	ev := webhook.Create(order)
	ev.ID = "evt_order_1001_created"
	if err := queue.EmitTx(ctx, tx, ev); err != nil {
		log.Fatal(err) // nothing was stored: roll back
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	select {
	case id := <-got:
		fmt.Println("received", id)
	case <-time.After(30 * time.Second):
		fmt.Println("not received")
	}
	// Output: received evt_order_1001_created
}
