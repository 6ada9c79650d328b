//go:build !race

package webhook_test

// raceDetector: the tests run with -race (see race_test.go).
const raceDetector = false
