package main

import "github.com/hookrail/webhook/internal/benchsend"

// newRawSender returns the baseline sender at concurrency conc: plain
// net/http POSTs to url of the workload's pre-built bodies, unsigned,
// through one tuned transport made once and reused by every run at this
// concurrency (see benchsend.Raw).
func newRawSender(url string, conc int) *benchsend.Raw {
	return benchsend.NewRaw(url, conc)
}

// newSignedSender returns raw plus signing at concurrency conc: the same
// pre-built bodies, each signed with the shared secret when it is sent
// and sent with the library's headers (see benchsend.Signed).
func newSignedSender(url string, conc int) *benchsend.Signed {
	return benchsend.NewSigned(url, secret, conc)
}
