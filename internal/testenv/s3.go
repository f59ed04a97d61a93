package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an S3-compatible server started for a test.
type S3 struct {
	Endpoint        string // http://127.0.0.1:PORT
	Region          string
	AccessKeyID     string
	SecretAccessKey string

	// Backend is gofakes3's in-memory store (nil for SeaweedFS): tests may
	// create buckets and objects directly through it.
	Backend *s3mem.Backend
	clock   *s3Clock
	putMu   sync.Mutex
}

// s3Clock is the backend's time source: the real time, or a fixed instant
// while PutObject writes an object with a chosen LastModified.
type s3Clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *s3Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() {
		return c.at
	}
	return time.Now().UTC()
}

func (c *s3Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *s3Clock) set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

// StartS3 runs gofakes3 (in-memory backend) on an httptest server on
// loopback for the rest of the test. It speaks the S3 protocol to the AWS
// SDK but accepts any credentials; StartSeaweedFS is the opt-in server that
// enforces them. It starts in well under a second.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	clock := &s3Clock{}
	backend := s3mem.New(s3mem.WithTimeSource(clock))
	faker := gofakes3.New(backend, gofakes3.WithIntegrityCheck(true))
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	return &S3{
		Endpoint:        srv.URL,
		Region:          "us-east-1",
		AccessKeyID:     "prf-test-access-key",
		SecretAccessKey: "prf-test-secret-key-0123456789",
		Backend:         backend,
		clock:           clock,
	}
}

// CreateBucket creates a bucket in the gofakes3 backend.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if s.Backend == nil {
		t.Fatal("testenv: CreateBucket needs the gofakes3 server (StartS3)")
	}
	if err := s.Backend.CreateBucket(name); err != nil {
		t.Fatalf("testenv: create bucket %s: %v", name, err)
	}
}

// SetVersioning turns versioning on or suspends it for a gofakes3 bucket.
func (s *S3) SetVersioning(t testing.TB, bucket string, enabled bool) {
	t.Helper()
	st := gofakes3.VersioningSuspended
	if enabled {
		st = gofakes3.VersioningEnabled
	}
	if err := s.Backend.SetVersioningConfiguration(bucket, gofakes3.VersioningConfiguration{Status: st}); err != nil {
		t.Fatalf("testenv: versioning of %s: %v", bucket, err)
	}
}

// PutObject writes an object to a gofakes3 bucket with the given
// LastModified (zero: now), so tests can build backups of known ages.
func (s *S3) PutObject(t testing.TB, bucket, key string, body []byte, lastModified time.Time) {
	t.Helper()
	if s.Backend == nil {
		t.Fatal("testenv: PutObject needs the gofakes3 server (StartS3)")
	}
	s.putMu.Lock()
	defer s.putMu.Unlock()
	if !lastModified.IsZero() {
		s.clock.set(lastModified.UTC())
		defer s.clock.set(time.Time{})
	}
	if _, err := s.Backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatalf("testenv: put %s/%s: %v", bucket, key, err)
	}
}

// ObjectKeys lists the keys of a gofakes3 bucket under prefix.
func (s *S3) ObjectKeys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	list, err := s.Backend.ListBucket(bucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: prefix != ""}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatalf("testenv: list %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, o.Key)
	}
	return keys
}

// SeaweedFSVersion is the SeaweedFS Go module version StartSeaweedFS builds
// (override with $PRF_SEAWEEDFS_VERSION). SeaweedFS tags releases without
// Go's "v", so its module versions are pseudo-versions.
const SeaweedFSVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// StartSeaweedFS runs a real S3 server, SeaweedFS's `weed mini`, on loopback
// with credentials enforced and one bucket created. It is opt-in: without
// PRF_TEST_SEAWEEDFS=1 the test is skipped. The first run builds `weed` from
// its Go module into CacheDir()/seaweedfs-<version> with
// scripts/build-seaweedfs.sh (about 15 CPU-minutes; progress is printed).
func StartSeaweedFS(t testing.TB, bucket string) *S3 {
	t.Helper()
	if os.Getenv("PRF_TEST_SEAWEEDFS") != "1" {
		t.Skip("testenv: SeaweedFS is opt-in: set PRF_TEST_SEAWEEDFS=1 (the first run builds it, ~15 CPU-minutes)")
	}
	weed := seaweedBinary(t)
	s := &S3{
		Region:          "us-east-1",
		AccessKeyID:     "prfseaweedadmin",
		SecretAccessKey: "prf-seaweed-secret-0123456789",
	}
	ports := map[string]int{}
	for _, name := range []string{"master", "volume", "filer", "s3", "master.grpc", "volume.grpc", "filer.grpc", "s3.grpc"} {
		ports[name] = FreePort(t)
	}
	dir := t.TempDir()
	argv := []string{weed, "mini",
		"-dir=" + filepath.Join(dir, "data"),
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.telemetry=false",
		"-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
		fmt.Sprintf("-master.port=%d", ports["master"]), fmt.Sprintf("-master.port.grpc=%d", ports["master.grpc"]),
		fmt.Sprintf("-volume.port=%d", ports["volume"]), fmt.Sprintf("-volume.port.grpc=%d", ports["volume.grpc"]),
		fmt.Sprintf("-filer.port=%d", ports["filer"]), fmt.Sprintf("-filer.port.grpc=%d", ports["filer.grpc"]),
		fmt.Sprintf("-s3.port=%d", ports["s3"]), fmt.Sprintf("-s3.port.grpc=%d", ports["s3.grpc"]),
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := Start(t, "seaweedfs", argv, Options{
		Dir: dir,
		Env: []string{
			"AWS_ACCESS_KEY_ID=" + s.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + s.SecretAccessKey,
			"S3_BUCKET=" + bucket,
		},
		Grace: 10 * time.Second,
	})
	s.Endpoint = "http://" + Addr(ports["s3"])
	// Ready once the S3 port answers an anonymous request with an S3 error
	// (403): the gateway is up and enforcing credentials. The bucket is
	// created just after; callers that need it should retry briefly.
	p.WaitReady(t, 90*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/"+bucket, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			return fmt.Errorf("GET /%s: %s", bucket, resp.Status)
		}
		return nil
	})
	return s
}

// seaweedBinary returns the cached weed binary, building it first when it is
// missing.
func seaweedBinary(t testing.TB) string {
	t.Helper()
	version := os.Getenv("PRF_SEAWEEDFS_VERSION")
	if version == "" {
		version = SeaweedFSVersion
	}
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(cache, "seaweedfs-"+version, "weed")
	if st, err := os.Stat(bin); err == nil && !st.IsDir() {
		return bin
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "build-seaweedfs.sh")
	t.Logf("testenv: building SeaweedFS %s into %s (first run only; ~15 CPU-minutes)", version, filepath.Dir(bin))
	cmd := exec.Command("bash", script, version, filepath.Dir(bin))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // progress, live
	if err := cmd.Run(); err != nil {
		t.Fatalf("testenv: build SeaweedFS (%s %s): %v", script, version, err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("testenv: build SeaweedFS: %v", err)
	}
	return bin
}
