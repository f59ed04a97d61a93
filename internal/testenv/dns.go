package testenv

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// DNSZone is what StartDNS serves.
type DNSZone struct {
	// Records maps "name TYPE" (an absolute, lower-case name and the type
	// as miekg/dns spells it, e.g. "www.prf.test. A") to the answer
	// records, in zone-file text, in the order they are answered.
	Records map[string][]string
	// ServFail names (absolute, lower case) are answered SERVFAIL.
	ServFail []string
	// TruncateUDP names are answered truncated, without records, over
	// UDP, so a client asks again over TCP.
	TruncateUDP []string
}

// StartDNS starts a miekg/dns server on 127.0.0.1, UDP and TCP on the same
// port, serving zone, and returns its host:port. It answers
// authoritatively, with recursion available. A name of zone.Records
// without the asked type is NODATA; a name not in it is NXDOMAIN. The
// server stops when the test ends.
func StartDNS(t testing.TB, zone DNSZone) string {
	t.Helper()
	known := map[string]bool{} // the names of zone.Records
	for key, recs := range zone.Records {
		name, _, _ := strings.Cut(key, " ")
		known[name] = true
		for _, r := range recs {
			if _, err := dns.NewRR(r); err != nil {
				t.Fatalf("testenv: DNS record %q: %v", r, err)
			}
		}
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.RecursionAvailable = true
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		switch {
		case slices.Contains(zone.ServFail, name):
			m.Rcode = dns.RcodeServerFailure
		case slices.Contains(zone.TruncateUDP, name) && w.RemoteAddr().Network() == "udp":
			m.Truncated = true
		case !known[name]:
			m.Rcode = dns.RcodeNameError
		default:
			for _, r := range zone.Records[name+" "+dns.TypeToString[q.Qtype]] {
				rr, err := dns.NewRR(r) // afresh: answers are packed concurrently
				if err != nil {
					panic(err) // checked above
				}
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			if try < 5 {
				continue // the TCP port is taken: pick another
			}
			t.Fatal(err)
		}
		for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			go func() { _ = srv.ActivateAndServe() }()
			<-started
			t.Cleanup(func() { _ = srv.Shutdown() })
		}
		return pc.LocalAddr().String()
	}
}
