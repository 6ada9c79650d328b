package webhook_test

// The SSRF guard, HTTPSOnly and MaxBodyBytes: the Config fields for
// endpoints whose URLs come from users. No traffic leaves 127.0.0.1.

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

func TestSSRFGuardCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"100.64.0.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"0.0.0.0", true},
		{"224.0.0.1", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"192.0.2.1", true}, // documentation
		{"::1", true},
		{"::", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fc00::1", true},
		{"fd00:ec2::254", true}, // AWS metadata over IPv6
		{"ff02::1", true},
		{"::ffff:10.0.0.1", true},  // IPv4-mapped
		{"::ffff:127.0.0.1", true}, // IPv4-mapped
		{"::ffff:169.254.169.254", true},
		{"64:ff9b::a00:1", true},    // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", true},   // NAT64 of 127.0.0.1
		{"2002:0a00:0001::", true},  // 6to4 of 10.0.0.1
		{"2002:a9fe:a9fe::1", true}, // 6to4 of 169.254.169.254
		{"2001:db8::1", true},       // documentation

		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"93.184.215.14", false},
		{"172.32.0.1", false},  // just past 172.16.0.0/12
		{"100.128.0.1", false}, // just past 100.64.0.0/10
		{"2606:4700:4700::1111", false},
		{"2001:4860:4860::8888", false},
		{"64:ff9b::808:808", false},  // NAT64 of 8.8.8.8
		{"::ffff:8.8.8.8", false},    // IPv4-mapped 8.8.8.8
		{"2002:0808:0808::1", false}, // 6to4 of 8.8.8.8
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			var g webhook.SSRFGuard
			err := g.Check(netip.MustParseAddr(tc.addr))
			switch {
			case tc.blocked && !errors.Is(err, webhook.ErrBlockedAddress):
				t.Errorf("Check(%s) = %v, want an error wrapping ErrBlockedAddress", tc.addr, err)
			case !tc.blocked && err != nil:
				t.Errorf("Check(%s) = %v, want nil", tc.addr, err)
			}
		})
	}
}

func TestSSRFGuardAllow(t *testing.T) {
	t.Parallel()
	g := &webhook.SSRFGuard{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"10.1.2.3", false},
		{"::ffff:10.1.2.3", false},  // the same address, IPv4-mapped
		{"64:ff9b::a01:203", false}, // the same address, NAT64
		{"10.1.3.1", true},          // outside the allowed prefix
		{"127.0.0.1", true},
		{"169.254.169.254", true},
		{"8.8.8.8", false},
	} {
		err := g.Check(netip.MustParseAddr(tc.addr))
		if got := err != nil; got != tc.blocked || (err != nil && !errors.Is(err, webhook.ErrBlockedAddress)) {
			t.Errorf("Check(%s) = %v, want blocked=%v", tc.addr, err, tc.blocked)
		}
	}
}

func TestSSRFGuardBlocksAtDial(t *testing.T) {
	t.Parallel()
	eachSyncMode(t, func(t *testing.T, syncMode bool) {
		srv := newHookReceiver(t, nil)
		fails := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Sync:      syncMode,
			SSRFGuard: &webhook.SSRFGuard{},
			// Retries on: a blocked address must still not be retried.
			Retry:     &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 10 * time.Millisecond},
			OnFailure: fails.record,
			Endpoints: []webhook.Endpoint{{Name: "user-supplied", URL: localhostURL(t, srv.Server, "/webhooks/"), Secret: stSecret}},
		})
		err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
		if syncMode {
			if !errors.Is(err, webhook.ErrBlockedAddress) {
				t.Fatalf("Emit = %v, want an error wrapping ErrBlockedAddress", err)
			}
			var de *webhook.DeliveryError
			if !errors.As(err, &de) || de.Endpoint != "user-supplied" || de.Attempt != 1 {
				t.Errorf("Emit = %v, want a DeliveryError for user-supplied on attempt 1", err)
			}
		} else {
			if err != nil {
				t.Fatalf("Emit = %v", err)
			}
			closeEmitter(t, e, 20*time.Second)
		}
		if fs := fails.all(); len(fs) != 1 || fs[0].Attempts != 1 || !errors.Is(fs[0].Err, webhook.ErrBlockedAddress) {
			t.Errorf("failures = %+v, want one after 1 attempt wrapping ErrBlockedAddress", fs)
		}
		logs, _ := e.Logs(context.Background(), webhook.LogQuery{})
		if len(logs) != 1 || logs[0].Status != webhook.StatusFailed || logs[0].Attempts != 1 {
			t.Errorf("logs = %+v, want one failed after 1 attempt", logs)
		}
		if n := srv.count(); n != 0 {
			t.Errorf("the server received %d requests, want 0", n)
		}
	})
}

func TestSSRFGuardAllowLoopback(t *testing.T) {
	t.Parallel()
	srv := newHookReceiver(t, nil)
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		SSRFGuard: &webhook.SSRFGuard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Endpoints: []webhook.Endpoint{{Name: "internal", URL: localhostURL(t, srv.Server, "/webhooks/"), Secret: stSecret}},
	})
	if err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1)); err != nil {
		t.Fatalf("Emit = %v, want delivered", err)
	}
	if n := srv.count(); n != 1 {
		t.Errorf("the server received %d requests, want 1", n)
	}
}

// The guard also covers the OAuth2 token fetch: a token URL on a blocked
// address is never contacted.
func TestSSRFGuardCoversTokenURL(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600)
	o := ts.oauth2()
	o.TokenURL = localhostURL(t, ts.Server, "/oauth/token")
	e := newEmitter(t, webhook.Config{
		Sync: true,
		// The endpoint's address is allowed, the token server's is not.
		// (Nothing listens on 127.0.0.2:9; nothing leaves the host.)
		SSRFGuard: &webhook.SSRFGuard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{{Name: "oauth2", URL: "http://127.0.0.2:9/", Secret: stSecret, OAuth2: o}},
	})
	err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
	// A blocked token URL fails like a blocked endpoint (see ErrToken).
	if !errors.Is(err, webhook.ErrBlockedAddress) {
		t.Errorf("Emit = %v, want an error wrapping ErrBlockedAddress", err)
	}
	if n := ts.hits.Load(); n != 0 {
		t.Errorf("the token server received %d requests, want 0", n)
	}
}

func TestGuardHTTPSOnly(t *testing.T) {
	t.Parallel()
	_, err := webhook.New(webhook.Config{
		HTTPSOnly: true,
		Logger:    quietLogger,
		Endpoints: []webhook.Endpoint{
			{Name: "secure", URL: "https://example.com/hooks", Secret: stSecret},
			{Name: "plain", URL: "http://example.com/hooks", Secret: stSecret},
		},
	})
	if !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Fatalf("New = %v, want ErrInvalidConfig", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `endpoint "plain"`) || !strings.Contains(msg, "url") {
		t.Errorf("error %q should name endpoint \"plain\" and the url field", msg)
	}
	if strings.Contains(msg, `"secure"`) {
		t.Errorf("error %q names the https endpoint", msg)
	}

	e, err := webhook.New(webhook.Config{
		HTTPSOnly: true,
		Logger:    quietLogger,
		Endpoints: []webhook.Endpoint{{Name: "secure", URL: "https://example.com/hooks", Secret: stSecret}},
	})
	if err != nil {
		t.Fatalf("New with an https endpoint: %v", err)
	}
	e.Close(context.Background())
}

func TestGuardMaxBodyBytes(t *testing.T) {
	t.Parallel()
	eachSyncMode(t, func(t *testing.T, syncMode bool) {
		rx := newOAuthEndpoint(t, nil)
		fails := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Sync:         syncMode,
			MaxBodyBytes: 512,
			OnFailure:    fails.record,
			Endpoints: []webhook.Endpoint{
				{Name: "full", URL: rx.URL + "/full", Secret: oauthSigSecret},
				{Name: "summary", URL: rx.URL + "/summary", Secret: oauthSigSecret,
					Transform: func(p webhook.Payload) (any, error) {
						return map[string]any{"id": p.ID, "event": p.Event}, nil
					}},
			},
		})
		ev := webhook.Event{Type: webhook.Created, Model: "store.Order",
			Object: map[string]any{"id": 1, "notes": strings.Repeat("x", 2000)}}
		err := e.Emit(testCtx(t, 20*time.Second), ev)
		if !errors.Is(err, webhook.ErrBodyTooLarge) {
			t.Fatalf("Emit = %v, want an error wrapping ErrBodyTooLarge", err)
		}
		if msg := err.Error(); !strings.Contains(msg, `endpoint "full"`) || strings.Contains(msg, `"summary"`) {
			t.Errorf("error %q should name endpoint \"full\" only", msg)
		}
		if strings.Contains(err.Error(), "xxxxxxxx") {
			t.Errorf("error shows the body: %.200s", err)
		}
		if !syncMode {
			closeEmitter(t, e, 20*time.Second)
		}
		reqs := rx.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests, want 1 (summary)", len(reqs))
		}
		if len(reqs[0].Body) > 512 || strings.Contains(string(reqs[0].Body), "xxx") {
			t.Errorf("summary got %s", reqs[0].Body)
		}
		checkOAuthRequest(t, 0, reqs[0])
		if fs := fails.all(); len(fs) != 1 || fs[0].Endpoint != "full" || !errors.Is(fs[0].Err, webhook.ErrBodyTooLarge) {
			t.Errorf("failures = %+v, want one for full wrapping ErrBodyTooLarge", fs)
		}
	})
}
