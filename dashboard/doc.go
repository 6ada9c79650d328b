// Package dashboard is an operator's web page for a [webhook.Emitter]: it
// lists the delivery logs, shows each delivery's payload and attempts,
// sends failed deliveries again, recovers an endpoint's failures after an
// outage, and pauses, resumes and resets endpoints.
//
// It is one [http.Handler], with its HTML, CSS and JavaScript embedded
// (no CDN, no build step). It has no authentication of its own: mount it
// behind the host's, under a prefix of your choosing:
//
//	mux.Handle("/admin/webhooks/", requireAdmin(http.StripPrefix("/admin/webhooks",
//		dashboard.New(emitter, dashboard.Options{}))))
//
// and open /admin/webhooks/ in a browser. The page is served at the
// handler's root; everything it loads (static/…, api/…) is relative to
// it, so any prefix works.
//
// # The page
//
// Deliveries are listed newest first with the webhook_logs fields (id,
// endpoint, event id and type, status, status code, attempts, created and
// completed times, error), filtered by endpoint, tenant, status, event id
// and "unresolved" (failures whose redelivery was not delivered: what is
// left to look at), a page at a time. A delivery opens to show its
// payload as sent (pretty-printed; redacted already by the Emitter), its
// attempts (time, duration, status code, error), the next attempt's time
// while it is retrying, the last error and response body, and the
// delivery that sent it again. A failed or delivered delivery can be sent
// again ([webhook.Emitter.Redeliver]); one sent again already says so and
// offers to send it once more ([webhook.Emitter.RedeliverAgain]).
//
// Each endpoint shows its queued and in-flight deliveries, circuit,
// tenant and whether it is paused or disabled ([webhook.Emitter.Stats]),
// with buttons to pause and resume it, to reset its circuit, to enable it
// again after a 410 Gone, and to send again every delivery that failed
// since a time ([webhook.Emitter.Recover]).
//
// The dashboard uses the Emitter's API only, so it works with every
// [webhook.LogStore]: the memory store (which keeps the newest logs
// only) and durable ones alike.
//
// # JSON API
//
// The page's script calls a JSON API under the same handler, which other
// tools may use too. Names are snake_case; every error is
// {"error": "…"} with a status code: 400 for bad input, 403 for a refused
// request, 404 for an unknown delivery or endpoint, 409 for a delivery
// sent again already or an endpoint that cannot take it, 503 when the
// Emitter is closed or its queue is full.
//
//	GET  api/logs?endpoint=&tenant=&status=&event_id=&unresolved=true&until=&limit=
//	     → {"logs": [...], "next_until": "…"}; next_until, when present,
//	       is the until of the next (older) page: the oldest creation
//	       time of this one, which holds every log created then.
//	GET  api/endpoints[?tenant=] → {"queued", "in_flight", "endpoints": [...], "tenants": [...]}
//	GET  api/stats               → webhook.Stats
//	POST api/redeliver     {"id": "dlv_…", "again": false} → {"id", "redelivered_as"};
//	                       409 with "already_redelivered": true when sent again already
//	POST api/recover       {"endpoint": "crm", "since": "2026-01-02T15:04:05Z"} → {"endpoint", "since", "recovered"}
//	POST api/pause         {"endpoint": "crm"} → the endpoint
//	POST api/resume        {"endpoint": "crm"}
//	POST api/reset-circuit {"endpoint": "crm"}
//	POST api/enable        {"endpoint": "crm"}
//
// # Security
//
// Behind the host's authentication, the dashboard defends its operators
// against other sites:
//
//   - GET never changes anything. Every POST must come from the page's own
//     origin, by its Sec-Fetch-Site or Origin header (a request with
//     neither is refused; see Options.TrustedOrigins for a proxy that
//     rewrites Host), and carry the handler's CSRF token, a random value
//     embedded in the page, in the X-CSRF-Token header (compared in
//     constant time), with a JSON body. A page elsewhere cannot press a
//     button for an operator.
//   - Every answer has a Content-Security-Policy (default-src 'self', no
//     inline script, frame-ancestors 'none'), X-Frame-Options: DENY,
//     X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer;
//     the page and API answers have Cache-Control: no-store.
//   - Payloads, errors and response bodies come from users and receivers:
//     the page only ever puts them in the document as text, never as
//     HTML.
//   - Endpoint URLs are shown without their query and user information,
//     and secrets never leave the Emitter.
package dashboard
