package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
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
// cannot slip through. Proxies from the environment are not used while the
// guard is on, since a proxy would make the connection on our behalf.
//
// Blocked: loopback, private (RFC 1918, fc00::/7), link-local (with the
// cloud metadata address 169.254.169.254), carrier-grade NAT (100.64.0.0/10),
// multicast, unspecified, broadcast, reserved and documentation ranges, and
// IPv4 addresses embedded in IPv4-mapped, NAT64 and 6to4 IPv6 addresses.
type SSRFGuard struct {
	// Allow lists networks to reach even though a blocked range holds
	// them, for example an internal receiver (netip.MustParsePrefix
	// ("10.1.2.0/24")).
	Allow []netip.Prefix
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

// guardTransport returns a copy of rt that dials through the guard.
func (g *SSRFGuard) guardTransport(rt http.RoundTripper) (*http.Transport, error) {
	t, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("ssrf_guard: the HTTP client's transport is %T; the guard needs an *http.Transport", rt)
	}
	t = t.Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	t.DialTLSContext = nil // a custom TLS dialer would bypass the check
	return t, nil
}
