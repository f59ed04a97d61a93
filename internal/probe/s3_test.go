package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/testenv"
)

func s3Spec(srv *testenv.S3, bucket string, mod func(*S3Spec)) *S3Spec {
	s := &S3Spec{}
	s.defaults()
	s.Endpoint, s.Region, s.Bucket = srv.Endpoint, srv.Region, bucket
	s.AccessKeyID, s.SecretAccessKey = srv.AccessKeyID, srv.SecretAccessKey
	s.Timeout = 20 * time.Second
	if mod != nil {
		mod(s)
	}
	return s
}

// runS3 runs the probe and checks what must hold for every run: the spec is
// valid, and no credential shows in the observation, the log or the error.
func runS3(t *testing.T, spec *S3Spec) (S3Observation, error) {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	var logs []string
	env := Env{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
	obs, err := probeS3(context.Background(), env, spec)
	js, jerr := json.Marshal(obs)
	if jerr != nil {
		t.Fatal(jerr)
	}
	specJS, _ := json.Marshal(spec)
	all := string(js) + string(specJS) + strings.Join(logs, "\n") + fmt.Sprint(err)
	for _, secret := range []string{spec.SecretAccessKey, spec.AccessKeyID, spec.SessionToken} {
		if secret != "" && strings.Contains(all, secret) {
			t.Errorf("a credential shows in the observation, spec JSON, log or error:\n%s", all)
		}
	}
	for _, l := range logs {
		t.Log(l)
	}
	return obs, err
}

func TestS3WriteCheck(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.CreateBucket(t, "prf-ok")
	srv.CreateBucket(t, "prf-versioned")
	srv.SetVersioning(t, "prf-versioned", true)

	for _, bucket := range []string{"prf-ok", "prf-versioned"} {
		t.Run(bucket, func(t *testing.T) {
			obs, err := runS3(t, s3Spec(srv, bucket, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !obs.BucketExists || obs.Latency <= 0 {
				t.Errorf("bucket_exists %v, latency %s", obs.BucketExists, obs.Latency)
			}
			wc := obs.WriteCheck
			if wc == nil {
				t.Fatal("no write_check")
			}
			if !wc.OK || !wc.Verified || !wc.Deleted || wc.Error != "" {
				t.Errorf("write_check = %+v", *wc)
			}
			if wc.Checksum == "" {
				t.Errorf("no server checksum compared: %+v", *wc)
			}
			if wc.PutLatency <= 0 || wc.GetLatency <= 0 {
				t.Errorf("latencies put %s get %s", wc.PutLatency, wc.GetLatency)
			}
			if !strings.HasPrefix(wc.Key, ".prf-probe/") {
				t.Errorf("key %q", wc.Key)
			}
			if keys := srv.ObjectKeys(t, bucket, ""); len(keys) != 0 {
				t.Errorf("probe object left behind: %v", keys)
			}
			if obs.Newest != nil {
				t.Errorf("newest without newest_under: %+v", obs.Newest)
			}
		})
	}
	t.Run("versioned bucket: no version left", func(t *testing.T) {
		vs, err := srv.Backend.ListBucketVersions("prf-versioned", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.Versions) != 0 {
			t.Errorf("versions left: %+v", vs.Versions)
		}
	})
	t.Run("write check off", func(t *testing.T) {
		obs, err := runS3(t, s3Spec(srv, "prf-ok", func(s *S3Spec) { s.WriteCheck = false }))
		if err != nil || obs.WriteCheck != nil {
			t.Fatalf("obs = %+v, err = %v", obs, err)
		}
		if flat := Flatten(obs); flat["write_check"] != nil {
			t.Errorf("flattened write_check = %#v", flat["write_check"])
		}
	})
}

func TestS3ObjectAges(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.CreateBucket(t, "prf-backups")
	now := time.Now()
	srv.PutObject(t, "prf-backups", "backups/db-2.dump", []byte("oldest backup"), now.Add(-78*time.Hour))
	srv.PutObject(t, "prf-backups", "backups/db-4.dump", []byte("newest backup, 30 hours old"), now.Add(-30*time.Hour))
	srv.PutObject(t, "prf-backups", "backups/db-3.dump", []byte("middle backup"), now.Add(-54*time.Hour))
	srv.PutObject(t, "prf-backups", "logs/app.log", []byte("newer, but not a backup"), now.Add(-time.Hour))
	srv.PutObject(t, "prf-backups", "backupsXYZ", []byte("shares the prefix, no slash"), now.Add(-2*time.Hour))

	t.Run("newest under backups/", func(t *testing.T) {
		obs, err := runS3(t, s3Spec(srv, "prf-backups", func(s *S3Spec) { s.NewestUnder = "backups/" }))
		if err != nil {
			t.Fatal(err)
		}
		n := obs.Newest
		if n == nil {
			t.Fatal("no newest")
		}
		if n.Count != 3 || n.Key != "backups/db-4.dump" || n.Truncated {
			t.Errorf("newest = %+v", *n)
		}
		if n.Size == nil || *n.Size != int64(len("newest backup, 30 hours old")) {
			t.Errorf("size = %v", n.Size)
		}
		if n.AgeHours == nil || math.Abs(*n.AgeHours-30) > 0.05 {
			t.Errorf("age_hours = %v, want ≈ 30", n.AgeHours)
		}
		if n.Age == nil || n.LastModified == nil || math.Abs(n.Age.Hours()-*n.AgeHours) > 1e-9 {
			t.Errorf("age = %v, last_modified = %v", n.Age, n.LastModified)
		}
		// The write check ran after the listing: its object is not counted.
		if obs.WriteCheck == nil || !obs.WriteCheck.OK {
			t.Errorf("write_check = %+v", obs.WriteCheck)
		}
		flat := Flatten(obs)["newest"].(map[string]any)
		if _, ok := flat["age"].(time.Duration); !ok {
			t.Errorf("flattened age = %#v, want a time.Duration", flat["age"])
		}
		if _, ok := flat["last_modified"].(time.Time); !ok {
			t.Errorf("flattened last_modified = %#v, want a time.Time", flat["last_modified"])
		}
	})
	t.Run("bounded listing", func(t *testing.T) {
		obs, err := runS3(t, s3Spec(srv, "prf-backups", func(s *S3Spec) {
			s.NewestUnder, s.NewestMaxKeys, s.WriteCheck = "backups/", 2, false
		}))
		if err != nil {
			t.Fatal(err)
		}
		if n := obs.Newest; n.Count != 2 || !n.Truncated {
			t.Errorf("newest = %+v", *n)
		}
	})
	t.Run("empty prefix: count 0, no age", func(t *testing.T) {
		obs, err := runS3(t, s3Spec(srv, "prf-backups", func(s *S3Spec) { s.NewestUnder = "nothing-here/" }))
		if err != nil {
			t.Fatal(err)
		}
		n := obs.Newest
		if n == nil || n.Count != 0 || n.Key != "" || n.Size != nil || n.AgeHours != nil || n.Truncated {
			t.Fatalf("newest = %+v", n)
		}
		flat := Flatten(obs)["newest"].(map[string]any)
		for _, k := range []string{"key", "size", "age", "age_hours", "last_modified"} {
			if _, ok := flat[k]; ok {
				t.Errorf("newest.%s present with no object: %v", k, flat)
			}
		}
		if flat["count"] != int64(0) {
			t.Errorf("newest.count = %#v", flat["count"])
		}
	})
}

func TestS3Paginates(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.CreateBucket(t, "prf-many")
	base := time.Now().Add(-100 * time.Hour)
	const n = 2100 // more than three pages of 1000
	for i := 0; i < n; i++ {
		srv.PutObject(t, "prf-many", fmt.Sprintf("wal/%06d", i), []byte{byte(i)}, base.Add(time.Duration(i)*time.Minute))
	}
	obs, err := runS3(t, s3Spec(srv, "prf-many", func(s *S3Spec) { s.NewestUnder, s.WriteCheck = "wal/", false }))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Newest.Count != n || obs.Newest.Key != fmt.Sprintf("wal/%06d", n-1) || obs.Newest.Truncated {
		t.Errorf("newest = %+v", *obs.Newest)
	}
}

func TestS3BucketSettings(t *testing.T) {
	t.Run("gofakes3 lacks encryption and public access block", func(t *testing.T) {
		srv := testenv.StartS3(t)
		srv.CreateBucket(t, "prf-plain")
		srv.CreateBucket(t, "prf-versioned")
		srv.SetVersioning(t, "prf-versioned", true)
		srv.CreateBucket(t, "prf-suspended")
		srv.SetVersioning(t, "prf-suspended", true)
		srv.SetVersioning(t, "prf-suspended", false)
		for bucket, want := range map[string]string{"prf-plain": "", "prf-versioned": "Enabled", "prf-suspended": "Suspended"} {
			obs, err := runS3(t, s3Spec(srv, bucket, func(s *S3Spec) { s.WriteCheck = false }))
			if err != nil {
				t.Fatal(err)
			}
			if obs.Versioning != want || obs.VersioningStatus != S3SettingOK {
				t.Errorf("%s: versioning %q (%s), want %q", bucket, obs.Versioning, obs.VersioningStatus, want)
			}
			// gofakes3 answers GET ?encryption and ?publicAccessBlock with a
			// bucket listing; that must not read as "no encryption".
			if obs.Encryption == nil || obs.Encryption.Status != S3SettingUnsupported || obs.Encryption.Enabled {
				t.Errorf("%s: encryption = %+v", bucket, obs.Encryption)
			}
			if obs.PublicAccessBlock == nil || obs.PublicAccessBlock.Status != S3SettingUnsupported {
				t.Errorf("%s: public_access_block = %+v", bucket, obs.PublicAccessBlock)
			}
		}
		obs, err := runS3(t, s3Spec(srv, "prf-plain", func(s *S3Spec) { s.CheckBucketSettings, s.WriteCheck = false, false }))
		if err != nil || obs.Encryption != nil || obs.PublicAccessBlock != nil || obs.VersioningStatus != "" {
			t.Errorf("settings read although off: %+v, %v", obs, err)
		}
	})

	// gofakes3 with the two sub-resources it lacks answered as AWS
	// documents them (GetBucketEncryption, GetPublicAccessBlock), per bucket.
	const (
		sseAES = `<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`
		sseKMS = `<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:us-east-1:111122223333:key/abcd</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`
		pabAll = `<?xml version="1.0" encoding="UTF-8"?>
<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`
		pabSome = `<?xml version="1.0" encoding="UTF-8"?>
<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>`
	)
	s3err := func(status int, code string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>R1</RequestId></Error>`, code, code)
		}
	}
	doc := func(body string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/xml")
			_, _ = w.Write([]byte(body))
		}
	}
	type answers struct{ enc, pab func(http.ResponseWriter) }
	buckets := map[string]answers{
		"aes-blocked": {enc: doc(sseAES), pab: doc(pabAll)},
		"kms-partial": {enc: doc(sseKMS), pab: doc(pabSome)},
		"none":        {enc: s3err(404, "ServerSideEncryptionConfigurationNotFoundError"), pab: s3err(404, "NoSuchPublicAccessBlockConfiguration")},
		"denied":      {enc: s3err(403, "AccessDenied"), pab: s3err(403, "AccessDenied")},
		"unsupported": {enc: s3err(501, "NotImplemented"), pab: s3err(501, "NotImplemented")},
		"broken":      {enc: s3err(500, "InternalError"), pab: s3err(500, "InternalError")},
	}
	backend := s3mem.New()
	fake := gofakes3.New(backend).Server()
	for b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := buckets[strings.Trim(r.URL.Path, "/")]
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Has("encryption") && a.enc != nil:
			a.enc(w)
		case r.Method == http.MethodGet && r.URL.Query().Has("publicAccessBlock") && a.pab != nil:
			a.pab(w)
		default:
			fake.ServeHTTP(w, r)
		}
	}))
	defer ts.Close()
	srv := &testenv.S3{Endpoint: ts.URL, Region: "us-east-1", AccessKeyID: "AKIAPRFTEST", SecretAccessKey: "prf-settings-secret"}

	tests := []struct {
		bucket string
		enc    S3Encryption
		pab    S3PublicAccessBlock
	}{
		{bucket: "aes-blocked", enc: S3Encryption{Enabled: true, Algorithm: "AES256", Status: "ok"},
			pab: S3PublicAccessBlock{BlockPublicACLs: true, IgnorePublicACLs: true, BlockPublicPolicy: true, RestrictPublicBuckets: true, Status: "ok"}},
		{bucket: "kms-partial", enc: S3Encryption{Enabled: true, Algorithm: "aws:kms", Status: "ok"},
			pab: S3PublicAccessBlock{BlockPublicACLs: true, BlockPublicPolicy: true, Status: "ok"}},
		{bucket: "none", enc: S3Encryption{Status: "none"}, pab: S3PublicAccessBlock{Status: "none"}},
		{bucket: "denied", enc: S3Encryption{Status: "denied"}, pab: S3PublicAccessBlock{Status: "denied"}},
		{bucket: "unsupported", enc: S3Encryption{Status: "unsupported"}, pab: S3PublicAccessBlock{Status: "unsupported"}},
		{bucket: "broken", enc: S3Encryption{Status: "error"}, pab: S3PublicAccessBlock{Status: "error"}},
	}
	for _, tc := range tests {
		t.Run(tc.bucket, func(t *testing.T) {
			obs, err := runS3(t, s3Spec(srv, tc.bucket, func(s *S3Spec) { s.WriteCheck = false }))
			if err != nil {
				t.Fatal(err)
			}
			enc, pab := *obs.Encryption, *obs.PublicAccessBlock
			if (tc.enc.Status == "denied" || tc.enc.Status == "error") != (enc.Error != "") {
				t.Errorf("encryption error = %q", enc.Error)
			}
			if (tc.pab.Status == "denied" || tc.pab.Status == "error") != (pab.Error != "") {
				t.Errorf("public_access_block error = %q", pab.Error)
			}
			enc.Error, pab.Error = "", ""
			if enc != tc.enc {
				t.Errorf("encryption = %+v, want %+v", enc, tc.enc)
			}
			if pab != tc.pab {
				t.Errorf("public_access_block = %+v, want %+v", pab, tc.pab)
			}
		})
	}
}

func TestS3Unreachable(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.CreateBucket(t, "prf-ok")

	t.Run("missing bucket is an observation", func(t *testing.T) {
		obs, err := runS3(t, s3Spec(srv, "prf-no-such-bucket", func(s *S3Spec) { s.NewestUnder = "backups/" }))
		if err != nil {
			t.Fatal(err)
		}
		if obs.BucketExists || obs.WriteCheck != nil || obs.Newest != nil || obs.Encryption != nil {
			t.Errorf("obs = %+v", obs)
		}
		if flat := Flatten(obs); flat["bucket_exists"] != false {
			t.Errorf("flattened bucket_exists = %#v", flat["bucket_exists"])
		}
	})
	t.Run("refused endpoint is a probe error", func(t *testing.T) {
		refused := &testenv.S3{Endpoint: "http://" + testenv.Addr(testenv.FreePort(t)), Region: "us-east-1",
			AccessKeyID: "AKIAPRFTEST", SecretAccessKey: "prf-refused-secret"}
		start := time.Now()
		_, err := runS3(t, s3Spec(refused, "prf-ok", nil))
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "bucket prf-ok") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s: retried?", d)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		defer hang.Close()
		slow := &testenv.S3{Endpoint: hang.URL, Region: "us-east-1", AccessKeyID: "AKIAPRFTEST", SecretAccessKey: "prf-slow-secret"}
		start := time.Now()
		_, err := runS3(t, s3Spec(slow, "prf-ok", func(s *S3Spec) { s.Timeout = 300 * time.Millisecond }))
		if err == nil {
			t.Fatal("no error")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %s with a 300ms timeout", d)
		}
	})
}

func TestS3SettingError(t *testing.T) {
	resp := func(code int) *smithyhttp.ResponseError {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("x")}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "not configured", err: &smithy.GenericAPIError{Code: "NoSuchPublicAccessBlockConfiguration"}, want: S3SettingNone},
		{name: "not implemented code", err: &smithy.GenericAPIError{Code: "NotImplemented"}, want: S3SettingUnsupported},
		{name: "501", err: resp(501), want: S3SettingUnsupported},
		{name: "405", err: resp(405), want: S3SettingUnsupported},
		{name: "access denied", err: &smithy.GenericAPIError{Code: "AccessDenied"}, want: S3SettingDenied},
		{name: "403", err: resp(403), want: S3SettingDenied},
		{name: "other", err: errors.New("boom"), want: S3SettingError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := s3SettingError(tc.err, "NoSuchPublicAccessBlockConfiguration"); got != tc.want {
				t.Errorf("status = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestS3SpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*S3Spec)
		wantErr string
	}{
		{name: "ok", mod: func(*S3Spec) {}},
		{name: "default chain (no keys)", mod: func(s *S3Spec) { s.AccessKeyID, s.SecretAccessKey = "", "" }},
		{name: "no bucket", mod: func(s *S3Spec) { s.Bucket = "" }, wantErr: "bucket: is required"},
		{name: "bucket with slash", mod: func(s *S3Spec) { s.Bucket = "a/b" }, wantErr: `bucket: "a/b" is not a bucket name`},
		{name: "relative endpoint", mod: func(s *S3Spec) { s.Endpoint = "127.0.0.1:9000" }, wantErr: "endpoint: must be an absolute http or https URL"},
		{name: "credentials in endpoint", mod: func(s *S3Spec) { s.Endpoint = "http://k:v@127.0.0.1:9000" }, wantErr: "endpoint: must not hold credentials"},
		{name: "secret without key id", mod: func(s *S3Spec) { s.AccessKeyID = "" }, wantErr: "access_key_id: is required with secret_access_key"},
		{name: "key id without secret", mod: func(s *S3Spec) { s.SecretAccessKey = "" }, wantErr: "secret_access_key: is required with access_key_id"},
		{name: "token without keys", mod: func(s *S3Spec) { s.AccessKeyID, s.SecretAccessKey, s.SessionToken = "", "", "t" }, wantErr: "session_token: needs access_key_id"},
		{name: "empty region", mod: func(s *S3Spec) { s.Region = "" }, wantErr: "region: must not be empty"},
		{name: "max keys", mod: func(s *S3Spec) { s.NewestMaxKeys = 0 }, wantErr: "newest_max_keys: must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &S3Spec{}
			s.defaults()
			s.Endpoint, s.Bucket, s.AccessKeyID, s.SecretAccessKey = "http://127.0.0.1:9000", "b", "AKIA", "very-secret"
			tc.mod(s)
			err := s.Validate()
			checkValidateMsg(t, err, tc.wantErr)
			if err != nil && strings.Contains(err.Error(), "very-secret") {
				t.Errorf("secret in error: %v", err)
			}
		})
	}
	s := &S3Spec{}
	s.defaults()
	if !s.PathStyle || s.Region != "us-east-1" || !s.WriteCheck || s.ProbePrefix != ".prf-probe/" || !s.CheckBucketSettings || s.NewestMaxKeys != 100000 {
		t.Errorf("defaults = %+v", s)
	}
}

// TestS3SeaweedFS runs the probe against a real S3 server that enforces
// credentials. Opt-in: PRF_TEST_SEAWEEDFS=1 (the first run builds SeaweedFS).
func TestS3SeaweedFS(t *testing.T) {
	srv := testenv.StartSeaweedFS(t, "prf-backups")
	// The bucket is created just after the gateway starts: wait for it.
	var obs S3Observation
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs, err = runS3(t, s3Spec(srv, "prf-backups", func(s *S3Spec) { s.NewestUnder = "backups/" }))
		if (err == nil && obs.BucketExists) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !obs.BucketExists || obs.WriteCheck == nil || !obs.WriteCheck.OK {
		t.Fatalf("obs = %+v, write_check = %+v", obs, obs.WriteCheck)
	}
	if obs.Newest == nil || obs.Newest.Count != 0 {
		t.Errorf("newest = %+v", obs.Newest)
	}
	t.Logf("seaweedfs: encryption %+v, versioning %q (%s), public access block %+v", obs.Encryption, obs.Versioning, obs.VersioningStatus, obs.PublicAccessBlock)

	t.Run("missing bucket", func(t *testing.T) {
		obs, err := runS3(t, s3Spec(srv, "prf-no-such-bucket", nil))
		if err != nil || obs.BucketExists {
			t.Fatalf("obs = %+v, err = %v", obs, err)
		}
	})
	t.Run("wrong secret key fails the probe", func(t *testing.T) {
		_, err := runS3(t, s3Spec(srv, "prf-backups", func(s *S3Spec) { s.SecretAccessKey = "not-the-" + srv.SecretAccessKey }))
		if err == nil {
			t.Fatal("no error with a wrong secret key")
		}
	})
}

func TestS3FromRegistry(t *testing.T) {
	k, s := registrySpec[*S3Spec](t, "s3")
	doc := `
endpoint: https://minio.internal:9000
path_style: false
region: eu-west-1
bucket: prod-backups
access_key_id: AKIAEXAMPLE
secret_access_key: not-a-real-secret
newest_under: backups/postgres/
newest_max_keys: 5000
write_check: false
ca_file: /etc/prf/ca.pem
timeout: 20s
`
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.PathStyle || s.Region != "eu-west-1" || s.NewestUnder != "backups/postgres/" || s.WriteCheck || !s.CheckBucketSettings ||
		s.ProbePrefix != ".prf-probe/" || s.CAFile != "/etc/prf/ca.pem" || s.Timeout != 20*time.Second || s.NewestMaxKeys != 5000 {
		t.Errorf("decoded = %+v", s)
	}
	fields := strings.Join(k.Fields(), ",")
	for _, f := range []string{"bucket_exists", "latency", "write_check", "encryption", "versioning", "public_access_block", "newest"} {
		if !strings.Contains(","+fields+",", ","+f+",") {
			t.Errorf("observation fields %s lack %s", fields, f)
		}
	}
}
