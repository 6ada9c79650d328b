package webhook

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// maxEventID bounds a host-given event id.
const maxEventID = 255

// checkEventID accepts an empty id (one is generated) or 1 to 255 visible
// ASCII characters: it is sent as a header.
func checkEventID(id string) error {
	if len(id) > maxEventID {
		return fmt.Errorf("id: %d bytes, want at most %d", len(id), maxEventID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("id: byte %d is %q; want visible ASCII (it is sent as a header)", i, c)
		}
	}
	return nil
}

// idDigits are Crockford's base-32 digits in lower case, in ASCII order.
const idDigits = "0123456789abcdefghjkmnpqrstvwxyz"

// idClock is the clock of newID: 48 bits of Unix milliseconds, then 12
// bits of the time within the millisecond (in 256 ns steps), bumped when
// two ids would share them, so that an Emitter's ids are monotonic
// (RFC 9562 section 6.2, method 3, as github.com/google/uuid makes them).
type idClock struct {
	mu   sync.Mutex
	last int64 // the milliseconds and steps of the last id
}

// idLen is the length of an id: a four-byte prefix ("evt_", "dlv_") and a
// UUIDv7 in 26 base-32 digits (see appendID).
const idLen = 4 + 26

// newID returns prefix (four bytes) followed by a UUIDv7 in base 32:
// unique, and sortable by time (monotonic within an Emitter).
func (e *Emitter) newID(prefix string) string {
	var b [idLen]byte
	return string(e.appendID(b[:0], prefix, time.Now().UnixNano()))
}

// newIDs returns the ids of an Emit: the event's (unless it has one) and
// one for each of its n deliveries, back to back in dlv (the i-th is
// dlvID(dlv, i)), read from one clock reading into one string. An id kept
// longer than its siblings (a Failure's, a log's) keeps that string of
// 30 × (n+1) bytes alive: one allocation per Emit is worth it, as the
// siblings' logs usually go together.
func (e *Emitter) newIDs(eventID string, n int, nano int64) (evt, dlv string) {
	k := n
	if eventID == "" {
		k++
	}
	var small [4 * idLen]byte
	b := small[:0]
	if k > len(small)/idLen {
		b = make([]byte, 0, k*idLen)
	}
	if eventID == "" {
		b = e.appendID(b, "evt_", nano)
	}
	for range n {
		b = e.appendID(b, "dlv_", nano)
	}
	all := string(b)
	if eventID == "" {
		return all[:idLen], all[idLen:]
	}
	return eventID, all
}

// dlvID returns the i-th delivery id of newIDs.
func dlvID(dlv string, i int) string { return dlv[i*idLen : (i+1)*idLen] }

// appendID appends prefix and a UUIDv7 for the time nano (Unix
// nanoseconds), its 128 bits in 26 digits of Crockford's base 32 in lower
// case (as a ULID spells them: the first digit holds the top 3 bits), so
// that ids sort as their times do and two of them (an event's and its
// delivery's) fit in 64 bytes. It is uuid.NewV7's layout without its
// allocation and its crypto/rand read on every id.
func (e *Emitter) appendID(b []byte, prefix string, nano int64) []byte {
	// The random bits come from the runtime's ChaCha8 generator, seeded by
	// the operating system: ids must be unique, not secret, and this costs
	// no system call.
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:16], rand.Uint64())
	milli := nano / 1e6
	t := milli<<12 + (nano-milli*1e6)>>8
	c := &e.ids
	c.mu.Lock()
	if t <= c.last {
		t = c.last + 1 // the same step as the last id: take the next
	}
	c.last = t
	c.mu.Unlock()
	milli, seq := t>>12, t&0xfff
	for i := range 6 {
		u[i] = byte(milli >> (40 - 8*i))
	}
	u[6] = 0x70 | byte(seq>>8) // version 7
	u[7] = byte(seq)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	b = append(b, prefix...)
	hi, lo := binary.BigEndian.Uint64(u[0:8]), binary.BigEndian.Uint64(u[8:16])
	for shift := 125; shift >= 0; shift -= 5 {
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59: // the digit straddles hi and lo
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		b = append(b, idDigits[v&31])
	}
	return b
}
