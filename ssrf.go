package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrBlockedAddress: the SSRF guard refused to connect to an address.
// Such a delivery fails at once; it is not retried.
var ErrBlockedAddress = errors.New("address blocked by the SSRF guard")

// SSRFGuard stops deliveries from reaching addresses inside your network,
// for endpoints whose URLs come from users. The check runs when the
// connection is made, on the IP address really dialled, so a hostname
// that resolves (or re-resolves: DNS rebinding) to a blocked address
// cannot slip through. Endpoints that a later release lets tenants add at
// run time will have the guard on by default.
//
// Blocked: loopback, private (RFC 1918, fc00::/7), link-local (with the
// cloud metadata address 169.254.169.254), carrier-grade NAT (100.64.0.0/10),
// multicast, unspecified, broadcast, reserved and documentation ranges, and
// IPv4 addresses embedded in IPv4-mapped, NAT64 and 6to4 IPv6 addresses.
//
// The guard makes every connection itself, so it is never bypassed and
// never silently drops a setting of the HTTP client's transport
// (Config.HTTPClient's, which must be an *http.Transport). New refuses,
// with an error wrapping ErrInvalidConfig:
//   - a transport that sets Dial, DialContext, DialTLS or DialTLSContext:
//     those would make connections the guard cannot check. Remove them (a
//     clone of http.DefaultTransport has a DialContext: set it to nil; the
//     guard dials with the same 30 s timeout and keep-alive), or do the
//     check in your own dialer and leave Config.SSRFGuard nil. The
//     transport New makes, and http.DefaultTransport (an HTTPClient
//     without Transport), dial with the standard settings, which the
//     guard's dialer keeps.
//   - a proxy, unless AllowProxy: a proxy connects to the endpoint on our
//     behalf, so the guard could only check the proxy's address. This is a
//     transport's Proxy, or, for http.ProxyFromEnvironment (the transport
//     New makes, http.DefaultTransport and its clones), a proxy named by
//     HTTP_PROXY or HTTPS_PROXY; when the environment names none, that
//     Proxy is unused and the guard connects directly.
//
// With the guard on, the delivery logs keep an answer's status code but
// not its body (see LogResponseBodies).
//
// New reads the guard once: do not modify it afterwards.
type SSRFGuard struct {
	// Allow lists networks to reach even though a blocked range holds
	// them, for example an internal receiver (netip.MustParsePrefix
	// ("10.1.2.0/24")). Defaults to none.
	Allow []netip.Prefix

	// AllowProxy lets deliveries go through the transport's proxy: the
	// proxy is trusted to refuse internal addresses, since the guard cannot
	// check the addresses the proxy connects to. A connection to the proxy
	// made to send a request through it is not checked; a request the
	// Proxy func sends directly (it returns nil, as for a NO_PROXY host)
	// is, even to the proxy's own address. Defaults to false: New refuses
	// a transport with a proxy rather than bypass it (see SSRFGuard).
	AllowProxy bool

	// LogResponseBodies keeps the start (the first KiB) of a failed
	// answer's body in the delivery logs (DeliveryLog.ResponseBody), as
	// when the guard is off. Defaults to false: the logs keep an answer's
	// status code and the error, never its body, so that an endpoint URL
	// pointed at an internal service (reached through Allow or a proxy)
	// cannot read that service's answers back through the logs. A request
	// the guard blocked has no answer, and so never a body.
	LogResponseBodies bool
}

var blockedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",          // "this network", unspecified
		"10.0.0.0/8",         // private
		"100.64.0.0/10",      // carrier-grade NAT
		"127.0.0.0/8",        // loopback
		"169.254.0.0/16",     // link-local, cloud metadata
		"172.16.0.0/12",      // private
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation
		"192.88.99.0/24",     // 6to4 relay anycast
		"192.168.0.0/16",     // private
		"198.18.0.0/15",      // benchmarking
		"198.51.100.0/24",    // documentation
		"203.0.113.0/24",     // documentation
		"224.0.0.0/4",        // multicast
		"240.0.0.0/4",        // reserved, broadcast
		"::/128",             // unspecified
		"::1/128",            // loopback
		"64:ff9b:1::/48",     // local-use NAT64
		"100::/64",           // discard
		"2001::/23",          // IETF protocol assignments (Teredo, ORCHID…)
		"2001:db8::/32",      // documentation
		"fc00::/7",           // unique local (AWS metadata fd00:ec2::254)
		"fe80::/10",          // link-local
		"fec0::/10",          // site-local (deprecated)
		"ff00::/8",           // multicast
		"::ffff:0:0/96",      // IPv4-mapped: unmapped before checking
		"::/96",              // IPv4-compatible (deprecated)
		"2002::/16",          // 6to4: the embedded IPv4 is checked
		"64:ff9b::/96",       // NAT64: the embedded IPv4 is checked
		"ff02::/16",          // link-local multicast (in ff00::/8; kept explicit)
		"255.255.255.255/32", // broadcast (in 240/4; kept explicit)
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Check reports whether the guard lets a connection to ip through:
// nil, or an error wrapping ErrBlockedAddress.
func (g SSRFGuard) Check(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return nil
		}
	}
	// An IPv4 address inside an IPv6 one is judged as itself.
	var v4 [4]byte
	switch b := ip.As16(); {
	case nat64.Contains(ip):
		copy(v4[:], b[12:16])
		return g.Check(netip.AddrFrom4(v4))
	case sixToFour.Contains(ip):
		copy(v4[:], b[2:6])
		return g.Check(netip.AddrFrom4(v4))
	}
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlockedAddress)
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in %s", ErrBlockedAddress, ip, p)
		}
	}
	return nil
}

// control is the dialer hook: it sees the address really dialled.
func (g *SSRFGuard) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrBlockedAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address", ErrBlockedAddress, host)
	}
	return g.Check(ip)
}

// keepsResponseBodies reports whether a failed answer's body goes to the
// delivery logs: without a guard, or when the guard asks for it.
func (g *SSRFGuard) keepsResponseBodies() bool { return g == nil || g.LogResponseBodies }

// guardDialer dials for a guarded transport. Every connection is checked
// but one to the proxy that the Proxy func named for the request being
// sent, when AllowProxy: the request's route says which.
type guardDialer struct {
	checked net.Dialer
	direct  net.Dialer
}

func (d *guardDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if r, _ := ctx.Value(routeKey{}).(*route); r != nil {
		if p := r.proxy.Load(); p != nil && *p == addr {
			return d.direct.DialContext(ctx, network, addr)
		}
	}
	return d.checked.DialContext(ctx, network, addr)
}

// isGuardDial reports whether f is a guardDialer's dial method.
func isGuardDial(f func(context.Context, string, string) (net.Conn, error)) bool {
	return f != nil && sameFunc(f, (&guardDialer{}).dial)
}

// routeKey carries a request's *route, from the client (see
// newHTTPClient) to the guard's Proxy func and dialer: the dial of a
// request has the request's context values.
type routeKey struct{}

// route is where the guard's Proxy func sent a request: the address of
// its proxy, or nil for a direct connection. A direct connection to the
// proxy's own address (a NO_PROXY rule that names it) is checked like any
// other.
type route struct{ proxy atomic.Pointer[string] }

// withRoute returns r with a route of its own.
func withRoute(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), routeKey{}, new(route)))
}

// proxyAddr is the address a transport dials for the proxy u, as
// net/http makes it (but for IDNA: a non-ASCII host is not matched, and
// its connection is checked).
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// envProxy returns the first of the variables net/http takes a proxy
// from that is set, or "".
func envProxy() string {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if os.Getenv(k) != "" {
			return k
		}
	}
	return ""
}

// sameFunc reports whether the funcs f and g run the same code: the same
// function, or method values of the same method (whatever their
// receivers).
func sameFunc(f, g any) bool {
	return reflect.ValueOf(f).Pointer() == reflect.ValueOf(g).Pointer()
}

// guardTransport returns a copy of rt that dials through the guard, or
// an error saying which of rt's settings the guard cannot honour.
func (g *SSRFGuard) guardTransport(rt http.RoundTripper) (*http.Transport, error) {
	t, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("ssrf_guard: the HTTP client's transport is %T; the guard needs an *http.Transport", rt)
	}
	// Dialers the guard replaces: the one of the transport New makes, and
	// the standard library's own (a *net.Dialer's DialContext with fixed
	// settings). Any other dialer is the user's, and would be bypassed or
	// dropped.
	stdDial := t.DialContext == nil ||
		isDefaultDial(t.DialContext) ||
		(rt == http.DefaultTransport && sameFunc(t.DialContext, (&net.Dialer{}).DialContext))
	var set []string
	if !stdDial {
		set = append(set, "DialContext")
	}
	//lint:ignore SA1019 the deprecated hook, still used by net/http, would bypass the guard
	if t.Dial != nil {
		set = append(set, "Dial")
	}
	//lint:ignore SA1019 the deprecated hook, still used by net/http for https, would bypass the guard
	if t.DialTLS != nil {
		set = append(set, "DialTLS")
	}
	if t.DialTLSContext != nil {
		set = append(set, "DialTLSContext")
	}
	if len(set) > 0 {
		verb := "is"
		if len(set) > 1 {
			verb = "are"
		}
		return nil, fmt.Errorf("ssrf_guard: the HTTP client's transport: %s %s set: the guard must make every connection itself, "+
			"to check the address dialled; remove %s (a clone of http.DefaultTransport has a DialContext: set it to nil), "+
			"or check addresses in your own dialer and leave SSRFGuard nil", strings.Join(set, ", "), verb, strings.Join(set, ", "))
	}

	proxy := t.Proxy
	if proxy != nil && !g.AllowProxy {
		if !sameFunc(proxy, http.ProxyFromEnvironment) {
			return nil, errors.New("ssrf_guard: the HTTP client's transport: Proxy is set: a proxy connects to the endpoint " +
				"on our behalf, so the guard cannot check the endpoint's address; set SSRFGuard.AllowProxy if the proxy " +
				"refuses internal addresses, or set Proxy to nil")
		}
		if k := envProxy(); k != "" {
			return nil, fmt.Errorf("ssrf_guard: the environment sets %s, and the HTTP client's transport takes its proxy "+
				"from it (http.ProxyFromEnvironment): a proxy connects to the endpoint on our behalf, so the guard cannot "+
				"check the endpoint's address; set SSRFGuard.AllowProxy if the proxy refuses internal addresses, or give "+
				"Config.HTTPClient a transport whose Proxy is nil to connect directly", k)
		}
		proxy = nil // names no proxy: nothing is lost
	}

	guard := SSRFGuard{Allow: slices.Clone(g.Allow)}
	d := &guardDialer{
		checked: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: guard.control},
		direct:  net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
	}
	t = t.Clone()
	t.DialContext = d.dial
	t.Proxy = nil
	if proxy != nil {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if rte, _ := r.Context().Value(routeKey{}).(*route); rte != nil {
				var addr *string
				if err == nil && u != nil {
					a := proxyAddr(u)
					addr = &a
				}
				rte.proxy.Store(addr)
			}
			return u, err
		}
	}
	return t, nil
}
