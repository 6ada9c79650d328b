package main

import "github.com/hookrail/webhook/internal/benchsend"

// newNaiveSender returns the dispatcher a user would write by hand
// instead of using the library, at concurrency conc: a map envelope,
// json.Marshal, the library's HMAC scheme with the shared secret (so the
// receiver's webhook.Verify accepts it) and one POST to url per event
// (see benchsend.Naive).
func newNaiveSender(url string, conc int) *benchsend.Naive {
	return benchsend.NewNaive(url, secret, conc)
}
