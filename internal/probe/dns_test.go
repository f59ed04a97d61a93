package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/prfhq/prf/internal/testenv"
)

// dnsZone is the test server's data. big.prf.test is truncated over UDP;
// fail.prf.test answers SERVFAIL; a known name without the asked type is
// NODATA; other names under prf.test are NXDOMAIN.
var dnsZone = testenv.DNSZone{
	Records: map[string][]string{
		"www.prf.test. A":          {"www.prf.test. 60 IN A 192.0.2.11", "www.prf.test. 60 IN A 192.0.2.10"},
		"www.prf.test. AAAA":       {"www.prf.test. 60 IN AAAA 2001:db8:0:0::1"},
		"alias.prf.test. CNAME":    {"alias.prf.test. 60 IN CNAME WWW.prf.test."},
		"alias.prf.test. A":        {"alias.prf.test. 60 IN CNAME www.prf.test.", "www.prf.test. 60 IN A 192.0.2.10"},
		"prf.test. MX":             {"prf.test. 60 IN MX 20 mx2.prf.test.", "prf.test. 60 IN MX 10 Mail.PRF.test."},
		"prf.test. TXT":            {`prf.test. 60 IN TXT "v=spf1 " "-all"`, `prf.test. 60 IN TXT "hello"`},
		"prf.test. NS":             {"prf.test. 60 IN NS ns1.prf.test.", "prf.test. 60 IN NS ns2.prf.test."},
		"_http._tcp.prf.test. SRV": {"_http._tcp.prf.test. 60 IN SRV 10 5 8080 www.prf.test."},
		"prf.test. CAA":            {`prf.test. 60 IN CAA 0 issue "letsencrypt.org"`},
		"big.prf.test. TXT":        {`big.prf.test. 60 IN TXT "only over tcp"`},
	},
	ServFail:    []string{"fail.prf.test."},
	TruncateUDP: []string{"big.prf.test."},
}

// startDNS starts a DNS server on loopback serving dnsZone.
func startDNS(t *testing.T) string { return testenv.StartDNS(t, dnsZone) }

func dnsSpec(name, typ, resolver string) *DNSSpec {
	s := &DNSSpec{}
	s.defaults()
	s.Name, s.Resolver = name, resolver
	if typ != "" {
		s.Type = typ
	}
	return s
}

// dnsCases run against the direct resolver and (but for CAA) the system
// resolver path.
var dnsCases = []struct {
	name, qname, typ string
	records          []string
	rcode            string
}{
	{"A", "www.prf.test", "A", []string{"192.0.2.10", "192.0.2.11"}, "NOERROR"},
	{"A default type, absolute name", "www.prf.test.", "", []string{"192.0.2.10", "192.0.2.11"}, "NOERROR"},
	{"A through a CNAME", "alias.prf.test", "A", []string{"192.0.2.10"}, "NOERROR"},
	{"AAAA", "www.prf.test", "AAAA", []string{"2001:db8::1"}, "NOERROR"},
	{"CNAME", "alias.prf.test", "CNAME", []string{"www.prf.test"}, "NOERROR"},
	{"MX", "prf.test", "mx", []string{"10 mail.prf.test", "20 mx2.prf.test"}, "NOERROR"},
	{"TXT", "prf.test", "TXT", []string{"hello", "v=spf1 -all"}, "NOERROR"},
	{"NS", "prf.test", "NS", []string{"ns1.prf.test", "ns2.prf.test"}, "NOERROR"},
	{"SRV", "_http._tcp.prf.test", "SRV", []string{"10 5 8080 www.prf.test"}, "NOERROR"},
	{"CAA", "prf.test", "CAA", []string{`0 issue "letsencrypt.org"`}, "NOERROR"},
	{"NXDOMAIN", "nope.prf.test", "A", []string{}, "NXDOMAIN"},
}

func TestDNSDirect(t *testing.T) {
	addr := startDNS(t)
	for _, tc := range dnsCases {
		t.Run(tc.name, func(t *testing.T) {
			spec := dnsSpec(tc.qname, tc.typ, addr)
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			obs, err := probeDNS(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(obs.Records, tc.records) || obs.Count != len(tc.records) || obs.Rcode != tc.rcode {
				t.Errorf("records %q count %d rcode %s, want %q %s", obs.Records, obs.Count, obs.Rcode, tc.records, tc.rcode)
			}
			if obs.Resolver != addr || obs.Transport != "udp" || obs.Latency <= 0 {
				t.Errorf("resolver %q transport %q latency %v", obs.Resolver, obs.Transport, obs.Latency)
			}
		})
	}

	more := []struct {
		name, qname, typ, rcode, transport string
		records                            []string
	}{
		{"NODATA", "www.prf.test", "MX", "NOERROR", "udp", []string{}},
		{"SERVFAIL is observed", "fail.prf.test", "A", "SERVFAIL", "udp", []string{}},
		{"truncated UDP falls back to TCP", "big.prf.test", "TXT", "NOERROR", "tcp", []string{"only over tcp"}},
	}
	for _, tc := range more {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := probeDNS(context.Background(), Env{}, dnsSpec(tc.qname, tc.typ, addr))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(obs.Records, tc.records) || obs.Rcode != tc.rcode || obs.Transport != tc.transport {
				t.Errorf("records %q rcode %s transport %s, want %q %s %s", obs.Records, obs.Rcode, obs.Transport, tc.records, tc.rcode, tc.transport)
			}
		})
	}
}

func TestDNSSystemPath(t *testing.T) {
	addr := startDNS(t)
	// The system path with Go's resolver pointed at the test server.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	for _, tc := range dnsCases {
		if tc.typ == "CAA" {
			continue // net.Resolver has no CAA lookup; see TestDNSCAAViaResolvConf
		}
		t.Run(tc.name, func(t *testing.T) {
			typ := strings.ToUpper(tc.typ)
			if typ == "" {
				typ = "A"
			}
			obs, err := lookupSystem(context.Background(), r, tc.qname, dnsTypes[typ])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(obs.Records, tc.records) || obs.Rcode != tc.rcode {
				t.Errorf("records %q rcode %s, want %q %s", obs.Records, obs.Rcode, tc.records, tc.rcode)
			}
			if obs.Resolver != "system" || obs.Transport != "system" {
				t.Errorf("resolver %q transport %q", obs.Resolver, obs.Transport)
			}
		})
	}
	t.Run("SERVFAIL is a probe error", func(t *testing.T) {
		if _, err := lookupSystem(context.Background(), r, "fail.prf.test.", dns.TypeA); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("CNAME of a name without one", func(t *testing.T) {
		obs, err := lookupSystem(context.Background(), r, "www.prf.test.", dns.TypeCNAME)
		if err != nil {
			t.Fatal(err)
		}
		if len(obs.Records) != 0 {
			t.Errorf("records = %q, want none", obs.Records)
		}
	})
}

func TestDNSCAAViaResolvConf(t *testing.T) {
	addr := startDNS(t)
	host, port, _ := net.SplitHostPort(addr)
	obs, err := lookupServers(context.Background(), &dns.ClientConfig{Servers: []string{host}, Port: port}, "prf.test", dns.TypeCAA)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(obs.Records, []string{`0 issue "letsencrypt.org"`}) || obs.Resolver != addr {
		t.Errorf("records %q resolver %q", obs.Records, obs.Resolver)
	}
	if _, err := lookupServers(context.Background(), &dns.ClientConfig{Port: port}, "prf.test", dns.TypeCAA); err == nil {
		t.Error("no servers: want an error")
	}
}

func TestDNSSystemResolverLocalhost(t *testing.T) {
	// Only /etc/hosts is read here; skip where it does not map localhost,
	// since the lookup would then leave the machine.
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil || !strings.Contains(string(hosts), "127.0.0.1") || !strings.Contains(string(hosts), "localhost") {
		t.Skip("no localhost entry in /etc/hosts")
	}
	obs, err := probeDNS(context.Background(), Env{}, dnsSpec("localhost", "A", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(obs.Records, "127.0.0.1") || obs.Rcode != "NOERROR" || obs.Resolver != "system" {
		t.Errorf("obs = %+v", obs)
	}
}

func TestDNSProbeErrors(t *testing.T) {
	// A UDP socket that reads queries and never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	silent := pc.LocalAddr().String()

	t.Run("no answer, ctx deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := probeDNS(ctx, Env{}, dnsSpec("www.prf.test", "A", silent))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
	})
	t.Run("no answer, cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := probeDNS(ctx, Env{}, dnsSpec("www.prf.test", "A", silent))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled", err)
		}
		if d := time.Since(start); d > 1900*time.Millisecond { // miekg/dns's own read timeout is 2s
			t.Errorf("returned after %v: cancel not honoured", d)
		}
	})
	t.Run("spec timeout", func(t *testing.T) {
		spec := dnsSpec("www.prf.test", "A", silent)
		spec.Timeout = 300 * time.Millisecond
		if _, err := probeDNS(context.Background(), Env{}, spec); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := probeDNS(ctx, Env{}, dnsSpec("www.prf.test", "A", addr)); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestDNSValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  DNSSpec
		field string
	}{
		{"valid", DNSSpec{Name: "example.com", Type: "A"}, ""},
		{"lower-case type", DNSSpec{Name: "example.com", Type: "txt", Resolver: "127.0.0.1:53"}, ""},
		{"missing name", DNSSpec{Type: "A"}, "name"},
		{"bad name", DNSSpec{Name: "a..b", Type: "A"}, "name"},
		{"unknown type", DNSSpec{Name: "example.com", Type: "PTR"}, "type"},
		{"resolver without port", DNSSpec{Name: "example.com", Type: "A", Resolver: "127.0.0.1"}, "resolver"},
		{"negative timeout", DNSSpec{Name: "example.com", Type: "A", Timeout: -1}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFieldError(t, tc.spec.Validate(), tc.field)
		})
	}
	k, _ := Default().Lookup("dns")
	if s := k.NewSpec().(*DNSSpec); s.Type != "A" {
		t.Errorf("default type = %q, want A", s.Type)
	}
}
