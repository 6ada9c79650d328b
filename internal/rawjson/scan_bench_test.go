package rawjson

import "testing"

// benchObj is the ~1 KB order of the root package's Emit benchmarks.
var benchObj = []byte(`{"id":42,"reference":"ORD-2026-0042","status":"pending","total":"299.99","currency":"EUR","paid":true,"notes":"Leave the parcel with the concierge if nobody answers.","tags":["priority","gift","eu"],"customer":{"id":"15","name":"John Doe","email":"john.doe@example.com","phone":"+33 1 23 45 67 89","address":{"street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"}},"shipping":{"street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"items":[{"sku":"SKU-0000","name":"Item number 0","quantity":1,"price":"59.99"},{"sku":"SKU-0001","name":"Item number 1","quantity":2,"price":"59.99"},{"sku":"SKU-0002","name":"Item number 2","quantity":3,"price":"59.99"},{"sku":"SKU-0003","name":"Item number 3","quantity":4,"price":"59.99"},{"sku":"SKU-0004","name":"Item number 4","quantity":5,"price":"59.99"}],"created_at":"2026-01-16T11:59:00Z","updated_at":"2026-01-16T12:00:00Z"}`)

// BenchmarkScan compares the word-at-a-time containerEnd with the
// byte-at-a-time reference, and times a walk of the object's members:
//
//	go test -run '^$' -bench Scan ./internal/rawjson
func BenchmarkScan(b *testing.B) {
	b.Run("words", func(b *testing.B) {
		for b.Loop() {
			containerEnd(benchObj, 0)
		}
	})
	b.Run("bytes", func(b *testing.B) {
		for b.Loop() {
			containerEndBytes(benchObj, 0)
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			it := ObjectIter(benchObj)
			for {
				if _, _, ok := it.NextKey(); !ok {
					break
				}
				it.Value()
			}
		}
	})
}
