package catalog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// hostGuard decides which hosts URL targets may name: an allow-list when one
// is configured, and never a loopback, private or link-local address unless
// its host is listed.
type hostGuard struct {
	listed   map[string]bool // configured catalog.allowed_hosts
	implicit map[string]bool // hosts of URLs given as source paths
	resolver *net.Resolver
}

func newHostGuard(hosts []string) *hostGuard {
	g := &hostGuard{listed: map[string]bool{}, implicit: map[string]bool{}, resolver: net.DefaultResolver}
	for _, h := range hosts {
		g.listed[normHost(h)] = true
	}
	return g
}

func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// allow lets URLs of host through because the operator named it as a source.
func (g *hostGuard) allow(host string) { g.implicit[normHost(host)] = true }

func (g *hostGuard) allowed(host string) bool {
	h := normHost(host)
	return g.listed[h] || g.implicit[h]
}

// errPrivateAddress is why a URL target on a loopback, private or link-local address is refused.
var errPrivateAddress = errors.New("is a loopback, private or link-local address; refused (list the host in catalog.allowed_hosts to allow it)")

// check refuses a URL whose scheme is not http(s), whose host is not on the
// allow-list (when there is one), or whose address is not public and not listed.
func (g *hostGuard) check(ctx context.Context, u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: only http and https", u.Scheme)
	}
	host := u.Hostname()
	if g.allowed(host) {
		return nil
	}
	if len(g.listed) > 0 {
		return fmt.Errorf("host %s is not in catalog.allowed_hosts; refused", host)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(normHost(host)); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", host, err)
		}
		addrs = ips
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return fmt.Errorf("host %s (%s) %w", host, a, errPrivateAddress)
		}
	}
	return nil
}

// publicAddr is false for loopback, private, link-local, unspecified,
// multicast and carrier-grade NAT addresses.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return false
	}
	return !cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// client is an HTTP client that checks the address it connects to as well, so
// a name that resolves differently the second time (DNS rebinding) or a
// redirect cannot reach an address check refused.
func (g *hostGuard) client() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if g.allowed(host) {
			return dialer.DialContext(ctx, network, addr)
		}
		d := *dialer
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("connect to %s: host %s %w", ap.Addr(), host, errPrivateAddress)
			}
			return nil
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: time.Minute, Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		return g.check(req.Context(), req.URL)
	}}
}
