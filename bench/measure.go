package main

import (
	"fmt"
	"runtime"
	"slices"
	"time"
)

// sample is one measured run of one sender.
type sample struct {
	rate   float64 // deliveries/s, first send to the last receipt
	cpuUs  float64 // this process's CPU µs (user + system) per delivery
	recvUs float64 // the receiver process's CPU µs per delivery
	allocs float64 // heap allocations per delivery
	kb     float64 // KB allocated per delivery
	recv   receipts
}

// measure runs send, which must deliver n requests to the receiver, and
// returns its figures. Before it: the receiver starts counting, and a GC
// leaves every sender the same clean heap. The clock runs from just
// before send to the receiver's n-th receipt; CPU time and allocations
// (this process only: the receiver is another) from just before send to
// the end of settle, which waits until the sender has finished with the
// last response.
func measure(r *receiver, n int, send, settle func() error) (sample, error) {
	if err := r.start(n); err != nil {
		return sample{}, err
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c0 := cpuTime()
	t0 := time.Now()
	if err := send(); err != nil {
		return sample{}, err
	}
	res, err := r.wait(waitTimeout(n))
	if err != nil {
		return sample{}, err
	}
	if err := settle(); err != nil {
		return sample{}, err
	}
	c1 := cpuTime()
	runtime.ReadMemStats(&m1)
	return sample{
		rate:   float64(n) / time.Duration(res.LastNs-t0.UnixNano()).Seconds(),
		cpuUs:  float64((c1 - c0).Nanoseconds()) / 1e3 / float64(n),
		recvUs: float64(res.CPUNs) / 1e3 / float64(n),
		allocs: float64(m1.Mallocs-m0.Mallocs) / float64(n),
		kb:     float64(m1.TotalAlloc-m0.TotalAlloc) / 1024 / float64(n),
		recv:   res,
	}, nil
}

// warm sends n deliveries outside any measurement: connections dialled,
// pools and caches filled.
func warm(r *receiver, n int, send, settle func() error) error {
	if err := r.start(n); err != nil {
		return err
	}
	if err := send(); err != nil {
		return err
	}
	if _, err := r.wait(waitTimeout(n)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return settle()
}

func waitTimeout(n int) time.Duration { return time.Minute + time.Duration(n)*time.Millisecond }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	switch {
	case len(s) == 0:
		return 0
	case len(s)%2 == 1:
		return s[len(s)/2]
	default:
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
}
