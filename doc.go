// Package webhook sends signed webhooks from a Go service when its data
// changes: an embeddable webhook sender with per-endpoint filtering,
// redaction and transforms, HMAC or Standard Webhooks signatures and
// scheduled retries, and the receiving side's verification middleware.
//
// # The flow of an event
//
// The host application calls [Emitter.Emit] from its create, update and
// delete hooks. For each event:
//
//  1. The object is snapshotted: marshalled to JSON (json tags respected)
//     inside Emit, so changing it afterwards changes nothing that is sent.
//     The actor comes from [Event.Actor], else from the context
//     ([WithActor]).
//  2. The endpoints that want it are matched: enabled, the event type in
//     [Endpoint.Events], the model label ("store.Order") allowed by
//     IncludeModels and ExcludeModels, and the model's [ModelMeta]
//     (Config.Models or the type's [MetaProvider]) agreeing.
//  3. For each such endpoint, fields are filtered (IncludeFields,
//     ExcludeFields) and redacted (RedactFields), in "object" and in
//     "changes" alike; the envelope is built, then the endpoint's
//     Transform, if any, shapes the final body.
//  4. The body, fixed from now on, is queued as one [Delivery] per
//     endpoint on a bounded queue (each endpoint has its own share).
//  5. A worker makes one attempt: it signs the body with a fresh
//     timestamp and POSTs it. A 2xx answer delivers it; a network error,
//     a timeout or a retryable status schedules a retry (see
//     [RetryConfig]); anything else gives it up, reported to
//     [Config.OnFailure] and kept in the delivery log ([Emitter.Logs]).
//
// # Sending
//
//	emitter, err := webhook.New(webhook.Config{
//		Endpoints: []webhook.Endpoint{{
//			Name:   "crm",
//			URL:    "https://crm.example.com/api/webhooks/",
//			Secret: os.Getenv("WEBHOOK_SECRET"),
//			Events: []webhook.EventType{webhook.Created, webhook.Updated},
//		}},
//		OnFailure: func(f webhook.Failure) { log.Printf("webhook: %v", f.Err) },
//	})
//	if err != nil {
//		return err
//	}
//
//	ctx = webhook.WithActor(ctx, webhook.Actor{ID: "1", Username: "admin"})
//	err = emitter.Emit(ctx, webhook.Create(order))
//	err = emitter.Emit(ctx, webhook.Update(before, after)) // changes computed
//	err = emitter.Emit(ctx, webhook.Delete(order))
//
//	// On shutdown: stop accepting events, drain the queue.
//	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	defer cancel()
//	err = emitter.Close(ctx)
//
// The model label of an event is [Event.Model], else the object's
// [ModelLabeler] method, else its Go package and type name (store.Order).
// The zero [Config] with one endpoint works: every field documents its
// default.
//
// # Receiving
//
// A receiver checks each request with [Verify], on the raw body before
// any JSON decoding, and deduplicates on what the signature covers (the
// body's "id"; the X-Webhook-Event-Id header is not signed):
//
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//	if err != nil { … }
//	if err := webhook.Verify(secret, r.Header, body); err != nil {
//		http.Error(w, "invalid signature", http.StatusUnauthorized)
//		return
//	}
//	var p webhook.Payload // decode the verified body; p.ID seen? answer 200
//
// Verify accepts a timestamp within [DefaultTolerance] (5 minutes) of the
// receiver's clock and compares signatures in constant time; its errors
// wrap [ErrMissingSignature], [ErrMalformedSignature],
// [ErrTimestampOutOfRange] or [ErrInvalidSignature]. A [Verifier] takes
// several secrets (rotation), another tolerance, a fixed clock or a scheme.
//
// [Receiver] does all of it as http middleware: it reads the body with a
// size limit, verifies it, deduplicates on what the signature covers
// through a [DedupStore]
// ([NewMemoryDedup] in memory) and calls the next handler once per event,
// with the verified body in r.Body:
//
//	rc := &webhook.Receiver{
//		Verifier: webhook.Verifier{Secrets: []string{secret}},
//		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{}),
//	}
//	mux.Handle("POST /webhooks/", rc.Middleware(handler))
//
// It answers 413 for a body over its limit, 400 for a malformed signature
// header, 401 for a missing or wrong signature or a stale timestamp, 200
// without calling the handler for an event already processed, and 409 with
// Retry-After while the same event is being processed; otherwise the
// handler answers, and a 2xx marks the event processed.
//
// # Wire format
//
// Each delivery is a POST with the headers of Rail Django's webhooks:
//
//	Content-Type: application/json
//	X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//	X-Webhook-Timestamp: <unix seconds>
//	X-Webhook-Event-Id: evt_…
//
// and, unless a Transform replaces it, this envelope ([Payload]):
//
//	{
//	  "id": "evt_…",
//	  "event": "updated",
//	  "timestamp": "2026-01-16T12:30:00Z",
//	  "model": {"app": "store", "name": "Order", "label": "store.Order"},
//	  "object": {"id": "42", "status": "shipped", …},
//	  "changes": {"status": {"old": "pending", "new": "shipped"}},
//	  "user": {"id": "1", "username": "admin"}
//	}
//
// "changes" is null except for updates, and "user" is null when no actor
// is known. Rail Django's Python and Node verifiers accept these requests,
// except during a secret rotation, when the signature header holds two
// values.
//
// # Signature schemes and secret rotation
//
// [Endpoint.Scheme] is [SchemeHMAC] (Rail Django's X-Webhook-* headers, the
// default) or [SchemeStandard] (Standard Webhooks: webhook-id,
// webhook-timestamp and webhook-signature, with a "whsec_" secret signing
// "v1," HMAC-SHA256, or a "whsk_" ed25519 key signing "v1a," so that
// receivers hold only the "whpk_" public key; see [GenerateSigningKey] and
// [PublicKey]). The receiver sets the same [Verifier.Scheme].
//
// To rotate a secret, give the receiver the new secret as well as the old
// ([Verifier.Secrets] takes several); then set the endpoint's Secret to the
// new one, [Endpoint.PreviousSecret] to the old one and
// [Endpoint.PreviousSecretUntil] to a deadline: until then every request
// carries a signature per secret. Once the receiver has dropped the old
// secret, or at the deadline, remove PreviousSecret.
//
// # Delivery guarantees
//
// The body is fixed at Emit; retries and [Emitter.Redeliver] send the same
// bytes. Field rules run before Transform, so excluded and redacted values
// never leave the process: not in a body, a delivery log, a Failure, a log
// line or an error.
//
// Delivery is at least once: a receiver may get an event more than once
// and must deduplicate on the event id (the body's, which the signature
// covers), which is the same on every
// attempt (set [Event.ID] to make re-emitted events recognisable). The
// memory queue promises no order between events; receivers order by
// "timestamp" and "id". Retries are scheduled for their due time, never
// slept through by a worker, and each attempt is signed afresh, so a retry
// an hour later still passes the receiver's tolerance. Redirects are never
// followed. Every delivery ends delivered or failed; a failure is logged,
// recorded in the delivery log and handed to OnFailure.
//
// [Emitter.Emit] returns nil when every delivery the event needs is in the
// queue. Its error is either about the event as a whole (nothing is sent
// or reported: the caller has it), or one [*DeliveryError] per endpoint
// whose delivery failed, each also reported like any delivery given up.
//
// [Emitter.Close] stops accepting events and waits for queued deliveries
// and scheduled retries. If its context ends first, every delivery left is
// reported to OnFailure and Close returns an [*UndeliveredError] wrapping
// the context's error; attempts it cuts short count against no endpoint.
// A delivery held by an open circuit fails with [ErrCircuitOpen] at its
// deadline (see [CircuitBreaker]). In [Config.Sync] mode, Emit delivers
// before it returns and returns every endpoint's failure.
//
// # Configuration files
//
// [LoadConfig] reads Rail Django's settings from a JSON or YAML file into a
// Config for New. In values, ${VAR} is replaced by the environment variable
// VAR and ${VAR:-default} falls back to default when VAR is unset or empty;
// an unset variable without a default is an error, never an empty secret.
// A file that names failure_callback, monitoring.alert_callback or an
// endpoint's transform needs a [ConfigLoader] that registers those
// functions by name. Every problem is reported as a [*ConfigError] naming
// the file, the line and the key. The key table is LoadConfig's doc.
//
// # Queues
//
// Deliveries wait in a [Queue] between attempts. The default
// ([MemoryQueue]) is in memory: bounded, with an equal share and a
// concurrency limit per endpoint served round-robin, a reserve of workers
// that endpoints past their fair share cannot take (so hanging endpoints
// never hold them all), and retries waiting in a timer heap; but what it
// holds is lost when the process dies. Sync mode runs an inline queue
// inside Emit.
//
// Another store plugs in through [Config.Queue]. New hands it a [Runner],
// the Emitter's one attempt engine: each attempt returns a [Result] whose
// [Outcome] tells the queue to forget the delivery, run it again after a
// delay (counted or not) or keep it as it was; the queue keeps the attempt
// count, gives up through the Runner what it cannot take, and can shape an
// event into its deliveries with no side effect ([Runner.Prepare]) to
// store them inside the host's transaction. Every queue must pass the
// conformance suite [github.com/hookrail/webhook/queuetest.Run]. A durable
// queue on River, in a module of its own, is planned; none ships yet.
package webhook
