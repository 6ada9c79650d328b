package dashboard_test

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/dashboard"
)

// requireAdmin stands for the host's own authentication: here, HTTP basic
// authentication with one account.
func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user+":"+pass), []byte("admin:correct horse")) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// The dashboard mounted under /admin/webhooks/, behind the host's
// authentication.
func Example() {
	emitter, err := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{{
		Name: "crm", URL: "https://crm.example.com/api/webhooks/", Secret: "secret_123",
	}}})
	if err != nil {
		log.Fatal(err)
	}
	defer emitter.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/admin/webhooks/", requireAdmin(http.StripPrefix("/admin/webhooks",
		dashboard.New(emitter, dashboard.Options{Title: "Order webhooks"}))))
	// http.ListenAndServe(addr, mux); here, a test server.
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/admin/webhooks/")
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("anonymous:", res.StatusCode)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/webhooks/", nil)
	req.SetBasicAuth("admin", "correct horse")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("admin:", res.StatusCode, res.Header.Get("Content-Type"))
	// Output:
	// anonymous: 401
	// admin: 200 text/html; charset=utf-8
}
