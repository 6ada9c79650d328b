package main

import "github.com/hookrail/webhook/internal/benchsend"

// newRawSender returns the baseline sender at concurrency conc: plain
// net/http POSTs to url of the workload's pre-built bodies, unsigned,
// through one tuned transport made once and reused by every run at this
// concurrency (see benchsend.Raw).
func newRawSender(url string, conc int) *benchsend.Raw {
	return benchsend.NewRaw(url, conc)
}
