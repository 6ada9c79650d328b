package webhook

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMemoryLogRecord is what the default memory log costs a
// delivery that succeeds at its first attempt: its pending log at Emit,
// its delivered log after the attempt, and, the store being full, the
// oldest finished log forgotten. The store holds DefaultLogSize logs of
// deliveries that are not in the processor's cache, as in a busy
// service.
func BenchmarkMemoryLogRecord(b *testing.B) {
	s := NewMemoryLogStore(DefaultLogSize)
	body := make([]byte, 1000)
	ds := make([]Delivery, 1<<16)
	for i := range ds {
		ds[i] = Delivery{ID: fmt.Sprintf("dlv_%026d", i), EventID: "evt_1", EventType: Created, Endpoint: "ep", Body: body, CreatedAt: time.Now()}
	}
	tried := AttemptRecord{Attempt: 1, Duration: time.Millisecond, StatusCode: 204}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d := new(Delivery) // as Emit makes one
		*d = ds[i%len(ds)]
		i++
		s.recordDelivery(d, StatusPending, 0, 0, "", "", time.Time{}, nil, time.Time{})
		tried.At = d.CreatedAt
		s.recordDelivery(d, StatusDelivered, 204, 1, "", "", d.CreatedAt.Add(time.Millisecond), &tried, time.Time{})
	}
}
