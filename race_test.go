//go:build race

package webhook_test

// raceDetector: the tests run with -race, under which sync.Pool drops
// some of what is put in it, so pooled paths allocate now and then.
const raceDetector = true
