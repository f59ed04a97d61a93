package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSSpec is the `dns` probe's settings.
type DNSSpec struct {
	Name     string        `yaml:"name" json:"name" doc:"domain name to look up"`
	Type     string        `yaml:"type" json:"type,omitempty" doc:"record type: A, AAAA, CNAME, MX, TXT, NS, SRV or CAA (default A)"`
	Resolver string        `yaml:"resolver" json:"resolver,omitempty" doc:"host:port of a DNS server to ask directly (UDP, then TCP when truncated); default: the system resolver"`
	Timeout  time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"lookup timeout (default: the checkpoint's)"`
}

// dnsTypes are the record types the probe supports.
var dnsTypes = map[string]uint16{
	"A":     dns.TypeA,
	"AAAA":  dns.TypeAAAA,
	"CNAME": dns.TypeCNAME,
	"MX":    dns.TypeMX,
	"TXT":   dns.TypeTXT,
	"NS":    dns.TypeNS,
	"SRV":   dns.TypeSRV,
	"CAA":   dns.TypeCAA,
}

func (s *DNSSpec) defaults() { s.Type = "A" }

// Validate implements Spec.
func (s *DNSSpec) Validate() error {
	if s.Name == "" {
		return Fieldf("name", "is required")
	}
	if _, ok := dns.IsDomainName(s.Name); !ok {
		return Fieldf("name", "%q is not a domain name", s.Name)
	}
	if _, ok := dnsTypes[strings.ToUpper(s.Type)]; !ok {
		return Fieldf("type", "%q is not one of A, AAAA, CNAME, MX, TXT, NS, SRV, CAA", s.Type)
	}
	if s.Resolver != "" {
		if _, _, err := net.SplitHostPort(s.Resolver); err != nil {
			return Fieldf("resolver", "want host:port: %v", err)
		}
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// DNSObservation is what a `dns` probe saw.
//
// Records are normalised and sorted: A/AAAA the address ("192.0.2.1",
// "2001:db8::1"); CNAME/NS the lower-case name without the final dot; MX
// "10 mail.example.com"; TXT the record's strings joined; SRV
// "priority weight port target"; CAA `0 issue "ca.example"`.
type DNSObservation struct {
	Records []string `json:"records"`
	Count   int      `json:"count"`
	// Rcode is the response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED…
	// The system resolver reports a name without records of the type as
	// NXDOMAIN too (Go's resolver does not tell them apart) and fails with a
	// probe error on SERVFAIL; with resolver set the code is the server's.
	Rcode     string        `json:"rcode"`
	Latency   time.Duration `json:"latency"`
	Resolver  string        `json:"resolver"`  // host:port asked, or "system"
	Transport string        `json:"transport"` // "udp", "tcp" (after a truncated UDP answer) or "system"
}

func probeDNS(ctx context.Context, env Env, s *DNSSpec) (DNSObservation, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	typ := strings.ToUpper(s.Type)
	if typ == "" {
		typ = "A"
	}
	qtype, ok := dnsTypes[typ]
	if !ok {
		return DNSObservation{}, fmt.Errorf("type %q not supported", s.Type)
	}
	var (
		obs DNSObservation
		err error
	)
	switch {
	case s.Resolver != "":
		obs, err = lookupDirect(ctx, s.Resolver, s.Name, qtype)
	case qtype == dns.TypeCAA:
		// net.Resolver has no CAA lookup: ask the servers of resolv.conf.
		var cc *dns.ClientConfig
		if cc, err = dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil {
			obs, err = lookupServers(ctx, cc, s.Name, qtype)
		}
	default:
		obs, err = lookupSystem(ctx, net.DefaultResolver, s.Name, qtype)
	}
	if err != nil {
		env.logf("lookup %s %s: %v", typ, s.Name, err)
		return obs, fmt.Errorf("lookup %s %s: %w", typ, s.Name, err)
	}
	obs.Count = len(obs.Records)
	env.logf("lookup %s %s via %s: %s, %d records in %s", typ, s.Name, obs.Resolver, obs.Rcode, obs.Count, obs.Latency)
	return obs, nil
}

// lookupDirect asks server over UDP, and again over TCP when the UDP answer
// is truncated. Any response is an observation, whatever its rcode.
func lookupDirect(ctx context.Context, server, name string, qtype uint16) (DNSObservation, error) {
	obs := DNSObservation{Resolver: server, Records: []string{}}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(4096, false)
	start := time.Now()
	var resp *dns.Msg
	for _, network := range []string{"udp", "tcp"} {
		obs.Transport = network
		r, err := dnsExchange(ctx, network, server, m)
		if err != nil {
			obs.Latency = time.Since(start)
			return obs, fmt.Errorf("%s %s: %w", network, server, err)
		}
		resp = r
		if !r.Truncated {
			break
		}
	}
	obs.Latency = time.Since(start)
	obs.Rcode = dns.RcodeToString[resp.Rcode]
	if obs.Rcode == "" {
		obs.Rcode = fmt.Sprintf("RCODE%d", resp.Rcode)
	}
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != qtype {
			continue // e.g. the CNAME chain in front of an A answer
		}
		if rec, ok := dnsRecord(rr); ok {
			obs.Records = append(obs.Records, rec)
		}
	}
	sort.Strings(obs.Records)
	return obs, nil
}

// dnsExchange sends m over one connection that is closed as soon as ctx
// ends (miekg/dns itself honours only ctx's deadline, not cancellation).
func dnsExchange(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, ctxError(ctx, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, ctxError(ctx, err)
	}
	return r, nil
}

// lookupServers asks the name servers of a resolv.conf in turn and observes
// the first answer.
func lookupServers(ctx context.Context, cc *dns.ClientConfig, name string, qtype uint16) (DNSObservation, error) {
	if len(cc.Servers) == 0 {
		return DNSObservation{Resolver: "system"}, errors.New("resolv.conf lists no nameserver")
	}
	var errs []error
	for _, srv := range cc.Servers {
		obs, err := lookupDirect(ctx, net.JoinHostPort(srv, cc.Port), name, qtype)
		if err == nil {
			return obs, nil
		}
		if ctx.Err() != nil {
			return obs, err
		}
		errs = append(errs, err)
	}
	return DNSObservation{Resolver: "system"}, errors.Join(errs...)
}

// lookupSystem asks r (net.DefaultResolver in production: /etc/hosts,
// resolv.conf, search domains). A name that is not found is an observation.
func lookupSystem(ctx context.Context, r *net.Resolver, name string, qtype uint16) (DNSObservation, error) {
	obs := DNSObservation{Resolver: "system", Transport: "system", Rcode: dns.RcodeToString[dns.RcodeSuccess], Records: []string{}}
	start := time.Now()
	recs, err := systemRecords(ctx, r, name, qtype)
	obs.Latency = time.Since(start)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound && ctx.Err() == nil {
			obs.Rcode = dns.RcodeToString[dns.RcodeNameError]
			return obs, nil
		}
		return obs, ctxError(ctx, err)
	}
	obs.Records = recs
	sort.Strings(obs.Records)
	return obs, nil
}

func systemRecords(ctx context.Context, r *net.Resolver, name string, qtype uint16) ([]string, error) {
	var out []string
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		network := "ip4"
		if qtype == dns.TypeAAAA {
			network = "ip6"
		}
		addrs, err := r.LookupNetIP(ctx, network, name)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			out = append(out, a.Unmap().String())
		}
	case dns.TypeCNAME:
		cname, err := r.LookupCNAME(ctx, name)
		if err != nil {
			return nil, err
		}
		// LookupCNAME answers the name itself when there is no CNAME.
		if c := dnsName(cname); c != dnsName(name) {
			out = append(out, c)
		}
	case dns.TypeMX:
		mxs, err := r.LookupMX(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, mx := range mxs {
			out = append(out, fmt.Sprintf("%d %s", mx.Pref, dnsName(mx.Host)))
		}
	case dns.TypeTXT:
		txts, err := r.LookupTXT(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, txts...)
	case dns.TypeNS:
		nss, err := r.LookupNS(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, ns := range nss {
			out = append(out, dnsName(ns.Host))
		}
	case dns.TypeSRV:
		_, srvs, err := r.LookupSRV(ctx, "", "", name)
		if err != nil {
			return nil, err
		}
		for _, srv := range srvs {
			out = append(out, fmt.Sprintf("%d %d %d %s", srv.Priority, srv.Weight, srv.Port, dnsName(srv.Target)))
		}
	default:
		return nil, fmt.Errorf("type %s: not supported by the system resolver", dns.TypeToString[qtype])
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// dnsRecord normalises one answer record (see DNSObservation).
func dnsRecord(rr dns.RR) (string, bool) {
	switch v := rr.(type) {
	case *dns.A:
		return v.A.String(), true
	case *dns.AAAA:
		return v.AAAA.String(), true
	case *dns.CNAME:
		return dnsName(v.Target), true
	case *dns.MX:
		return fmt.Sprintf("%d %s", v.Preference, dnsName(v.Mx)), true
	case *dns.TXT:
		return strings.Join(v.Txt, ""), true
	case *dns.NS:
		return dnsName(v.Ns), true
	case *dns.SRV:
		return fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, dnsName(v.Target)), true
	case *dns.CAA:
		return fmt.Sprintf("%d %s %q", v.Flag, v.Tag, v.Value), true
	}
	return "", false
}

// dnsName is a name as records show it: lower case, no final dot.
func dnsName(n string) string {
	n = strings.ToLower(strings.TrimSuffix(n, "."))
	if n == "" {
		return "."
	}
	return n
}
