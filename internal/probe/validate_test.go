package probe

import (
	"errors"
	"strings"
	"testing"
)

// checkFieldError checks that err is a *FieldError naming field, or nil
// when field is "".
func checkFieldError(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("Validate() = %v, want a FieldError on %q", err, field)
	}
	if fe.Field != field {
		t.Fatalf("Validate() names field %q (%v), want %q", fe.Field, err, field)
	}
}

// checkValidateMsg asserts Validate's message starts with want ("field:
// message"), or that it passed when want is empty.
func checkValidateMsg(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

// registrySpec looks a kind up in the default registry and returns it with
// a new spec of type S (a pointer, e.g. *HTTPSpec), its defaults applied;
// it fails the test if the kind is missing or its spec has another type.
func registrySpec[S Spec](t *testing.T, name string) (Kind, S) {
	t.Helper()
	k, ok := Default().Lookup(name)
	if !ok {
		t.Fatalf("%s kind not registered", name)
	}
	s, ok := k.NewSpec().(S)
	if !ok {
		t.Fatalf("%s: NewSpec returned %T", name, k.NewSpec())
	}
	return k, s
}
