package runner

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/prfhq/prf/internal/store"
)

func TestRedactorEscapedForms(t *testing.T) {
	secret := `pä ss"wörd\1`
	r := newRedactor([]string{secret, "abc"})
	js, _ := json.Marshal(secret)
	for _, form := range []string{secret, url.PathEscape(secret), url.QueryEscape(secret), strconv.Quote(secret), string(js)} {
		got := r.String("before " + form + " after")
		if strings.Contains(got, "ss") || !strings.Contains(got, redacted) {
			t.Errorf("%q → %q", form, got)
		}
	}
	if got := r.String("abc"); got != "abc" {
		t.Errorf("a secret under 4 characters is not redacted (it would mangle text): %q", got)
	}
}

// A secret in a value the expression read is redacted before the message
// quotes it and cuts it to length.
func TestSecretInValuesRead(t *testing.T) {
	secret := `s3cr3t&tok"en-0123456789`
	t.Setenv("PRF_RUNNER_PW", secret)
	f := &fakeKind{attempts: map[string]int{}}
	pad := strings.Repeat("x", 110)
	cl := load(t, f, cp("long", "", "echo: '"+pad+"${secrets.pw}'", `echo == "ok"`)+
		cp("short", "", "echo: '${secrets.pw}'", `echo == "ok"`))
	mem := newMem()
	run, err := Run(context.Background(), cl, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range mem.results[run.ID] {
		if res.Status != store.StatusFail {
			t.Errorf("%s: %s", res.ID, res.Status)
		}
		for _, part := range []string{"s3cr3t", "tok", "0123456789"} {
			for _, s := range []string{res.Message, string(res.Values), string(res.Observation)} {
				if strings.Contains(s, part) {
					t.Errorf("%s: %q leaked in %s", res.ID, part, s)
				}
			}
		}
	}
}
