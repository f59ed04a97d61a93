package probe

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // S3's ETag of a single-part object is an MD5; compared, not relied on for security
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Spec is the `s3` probe's settings. It checks one bucket: that it exists,
// optionally a write/read/verify/delete round trip, the bucket's encryption,
// versioning and public access block, and the newest object under a prefix
// (how a backup's age is checked, §4.2).
type S3Spec struct {
	Endpoint        string `yaml:"endpoint" json:"endpoint,omitempty" doc:"URL of an S3-compatible server, e.g. http://127.0.0.1:8333 (default: AWS S3 for the region)"`
	PathStyle       bool   `yaml:"path_style" json:"path_style,omitempty" doc:"address buckets as endpoint/bucket rather than bucket.endpoint; applies only with endpoint (default true)"`
	Region          string `yaml:"region" json:"region,omitempty" doc:"region to sign for (default us-east-1)"`
	Bucket          string `yaml:"bucket" json:"bucket" doc:"bucket to check"`
	AccessKeyID     string `yaml:"access_key_id" json:"-" doc:"access key ID (use ${secrets.NAME}); without it the SDK's default credential chain is used"`
	SecretAccessKey string `yaml:"secret_access_key" json:"-" doc:"secret access key (use ${secrets.NAME})"`
	SessionToken    string `yaml:"session_token" json:"-" doc:"session token of temporary credentials (use ${secrets.NAME})"`

	WriteCheck          bool          `yaml:"write_check" json:"write_check" doc:"put a probe object under probe_prefix, read it back, verify its bytes and checksum, delete it (default true)"`
	ProbePrefix         string        `yaml:"probe_prefix" json:"probe_prefix,omitempty" doc:"key prefix of the write check's probe object (default .prf-probe/)"`
	NewestUnder         string        `yaml:"newest_under" json:"newest_under,omitempty" doc:"list objects under this key prefix (e.g. backups/db/) and observe the newest one's key, size and age"`
	NewestMaxKeys       int           `yaml:"newest_max_keys" json:"newest_max_keys,omitempty" doc:"most keys listed under newest_under (default 100000); beyond it newest.truncated is true"`
	CheckBucketSettings bool          `yaml:"check_bucket_settings" json:"check_bucket_settings" doc:"read the bucket's default encryption, versioning and public access block (default true)"`
	Timeout             time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"limit for the whole probe (default: the checkpoint's timeout)"`

	TLSOptions `yaml:",inline"`
}

const (
	s3DefaultRegion      = "us-east-1"
	s3DefaultProbePrefix = ".prf-probe/"
	s3DefaultMaxKeys     = 100_000
	s3ProbeObjectSize    = 1024
)

func (s *S3Spec) defaults() {
	s.PathStyle = true
	s.Region = s3DefaultRegion
	s.WriteCheck = true
	s.ProbePrefix = s3DefaultProbePrefix
	s.NewestMaxKeys = s3DefaultMaxKeys
	s.CheckBucketSettings = true
}

// Validate implements Spec.
func (s *S3Spec) Validate() error {
	if s.Bucket == "" {
		return Fieldf("bucket", "is required")
	}
	if strings.ContainsAny(s.Bucket, "/ \t\r\n") {
		return Fieldf("bucket", "%q is not a bucket name", s.Bucket)
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Fieldf("endpoint", "must be an absolute http or https URL")
		}
		if u.User != nil {
			return Fieldf("endpoint", "must not hold credentials (use access_key_id and secret_access_key)")
		}
	}
	if s.Region == "" {
		return Fieldf("region", "must not be empty")
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		if s.AccessKeyID == "" {
			return Fieldf("access_key_id", "is required with secret_access_key")
		}
		return Fieldf("secret_access_key", "is required with access_key_id")
	}
	if s.SessionToken != "" && s.AccessKeyID == "" {
		return Fieldf("session_token", "needs access_key_id and secret_access_key")
	}
	if s.NewestMaxKeys <= 0 {
		return Fieldf("newest_max_keys", "must be positive")
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// Statuses of a bucket setting read (encryption, versioning, public access
// block).
const (
	S3SettingOK          = "ok"          // read; the fields hold it
	S3SettingNone        = "none"        // the bucket has no such configuration
	S3SettingUnsupported = "unsupported" // the server does not implement the call
	S3SettingDenied      = "denied"      // the credentials may not read it
	S3SettingError       = "error"       // another failure; see error
)

// S3Observation is what an `s3` probe saw.
//
// A bucket that does not exist is an observation (bucket_exists false, the
// other parts null), so "this bucket must exist" reads as a failed
// expectation with the bucket's name in the checkpoint. A server that cannot
// be reached, or that refuses the credentials (HeadBucket answering 403), is a
// probe error: nothing about the bucket could be observed.
type S3Observation struct {
	BucketExists bool          `json:"bucket_exists"`
	Latency      time.Duration `json:"latency"` // HeadBucket round trip, connection set-up included

	WriteCheck        *S3WriteCheck        `json:"write_check"` // null unless write_check
	Encryption        *S3Encryption        `json:"encryption"`  // null unless check_bucket_settings
	Versioning        string               `json:"versioning"`  // Enabled, Suspended, or "" (never enabled, or not read)
	VersioningStatus  string               `json:"versioning_status"`
	PublicAccessBlock *S3PublicAccessBlock `json:"public_access_block"`
	Newest            *S3Newest            `json:"newest"` // null unless newest_under
}

// S3WriteCheck is the write/read/verify/delete round trip of a probe object.
// A failed step is recorded here (ok false, error), not a probe error.
type S3WriteCheck struct {
	OK         bool          `json:"ok"` // put, get, verified and deleted
	Key        string        `json:"key"`
	PutLatency time.Duration `json:"put_latency"`
	GetLatency time.Duration `json:"get_latency"`
	Verified   bool          `json:"verified"` // bytes read back equal bytes written, and the server's checksum (if any) matched
	Checksum   string        `json:"checksum"` // which server checksum was compared: sha256, md5 (the ETag), or "" none
	Deleted    bool          `json:"deleted"`
	Error      string        `json:"error"`
}

// S3Encryption is the bucket's default encryption.
type S3Encryption struct {
	Enabled   bool   `json:"enabled"`
	Algorithm string `json:"algorithm"` // AES256, aws:kms, aws:kms:dsse
	Status    string `json:"status"`    // ok, none, unsupported, denied, error
	Error     string `json:"error"`
}

// S3PublicAccessBlock is the bucket's public access block configuration.
type S3PublicAccessBlock struct {
	BlockPublicACLs       bool   `json:"block_public_acls"`
	IgnorePublicACLs      bool   `json:"ignore_public_acls"`
	BlockPublicPolicy     bool   `json:"block_public_policy"`
	RestrictPublicBuckets bool   `json:"restrict_public_buckets"`
	Status                string `json:"status"` // ok, none (no configuration: nothing blocked), unsupported, denied, error
	Error                 string `json:"error"`
}

// S3Newest is the newest object under newest_under. With no objects (count
// 0) only count and truncated are present: an age check then errors rather
// than passing on an age of zero.
type S3Newest struct {
	Prefix       string         `json:"prefix"`
	Count        int            `json:"count"`     // objects seen under the prefix
	Truncated    bool           `json:"truncated"` // more than newest_max_keys; newest is among those seen
	Key          string         `json:"key,omitempty"`
	Size         *int64         `json:"size,omitempty"`
	LastModified *time.Time     `json:"last_modified,omitempty"`
	Age          *time.Duration `json:"age,omitempty"` // now − last_modified, by this host's clock
	AgeHours     *float64       `json:"age_hours,omitempty"`
}

func probeS3(ctx context.Context, env Env, s *S3Spec) (S3Observation, error) {
	var obs S3Observation
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	client, closeIdle, err := s.client(ctx, env)
	if err != nil {
		return obs, fmt.Errorf("s3: %w", err)
	}
	defer closeIdle()

	start := time.Now()
	_, err = client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)})
	obs.Latency = time.Since(start)
	if err != nil {
		if s3IsNotFound(err) {
			env.logf("bucket %s: not found", s.Bucket)
			return obs, nil
		}
		return obs, fmt.Errorf("s3: bucket %s: %w", s.Bucket, err)
	}
	obs.BucketExists = true
	env.logf("bucket %s: exists (%s)", s.Bucket, obs.Latency)

	if s.CheckBucketSettings {
		obs.Encryption = s.encryption(ctx, client)
		obs.Versioning, obs.VersioningStatus = s.versioning(ctx, client)
		obs.PublicAccessBlock = s.publicAccessBlock(ctx, client)
	}
	// List before the write check, so that the probe's own object is never
	// the newest one.
	if s.NewestUnder != "" {
		n, err := s.newest(ctx, client)
		if err != nil {
			return obs, fmt.Errorf("s3: list %s/%s: %w", s.Bucket, s.NewestUnder, err)
		}
		obs.Newest = n
	}
	if s.WriteCheck {
		obs.WriteCheck = s.writeCheck(ctx, env, client)
	}
	return obs, ctx.Err()
}

// client builds the S3 client. The returned func closes its idle
// connections when the probe ends.
func (s *S3Spec) client(ctx context.Context, env Env) (*s3.Client, func(), error) {
	tlsCfg, err := s.TLSOptions.Config()
	if err != nil {
		return nil, nil, err
	}
	// A BuildableClient, so that the SDK can still add a CA bundle from the
	// environment (AWS_CA_BUNDLE) to our roots.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = nil // probes talk to the target, never via a proxy from the environment
		tr.TLSClientConfig = tlsCfg
		tr.IdleConnTimeout = 5 * time.Second
	})
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(s.Region),
		config.WithHTTPClient(httpClient),
		// One attempt: retries are the checkpoint's to configure, and a
		// probe must not hide a flaky server.
		config.WithRetryMaxAttempts(1),
		config.WithLogger(logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
			env.logf("s3 sdk: "+format, v...)
		})),
	}
	if s.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, s.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w", err)
	}
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		cfg.HTTPClient = b.Freeze() // an *http.Client, whose idle connections can be closed
	}
	closeIdle := func() {
		if c, ok := cfg.HTTPClient.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
			o.UsePathStyle = s.PathStyle
		}
	})
	return client, closeIdle, nil
}

func (s *S3Spec) encryption(ctx context.Context, client *s3.Client) *S3Encryption {
	enc := &S3Encryption{}
	var root string
	out, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(s.Bucket)}, s3CaptureRoot(&root))
	if err != nil {
		enc.Status, enc.Error = s3SettingError(err, "ServerSideEncryptionConfigurationNotFoundError")
		return enc
	}
	// A server that does not know ?encryption may answer it as a plain
	// bucket GET (a ListBucketResult): the SDK then decodes an empty
	// configuration without error.
	if root != "ServerSideEncryptionConfiguration" || out.ServerSideEncryptionConfiguration == nil {
		enc.Status = S3SettingUnsupported
		return enc
	}
	enc.Status = S3SettingOK
	for _, r := range out.ServerSideEncryptionConfiguration.Rules {
		if d := r.ApplyServerSideEncryptionByDefault; d != nil && d.SSEAlgorithm != "" {
			enc.Enabled = true
			enc.Algorithm = string(d.SSEAlgorithm)
			break
		}
	}
	if !enc.Enabled {
		enc.Status = S3SettingNone
	}
	return enc
}

func (s *S3Spec) versioning(ctx context.Context, client *s3.Client) (versioning, st string) {
	var root string
	out, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(s.Bucket)}, s3CaptureRoot(&root))
	if err != nil {
		st, _ = s3SettingError(err, "")
		return "", st
	}
	if root != "VersioningConfiguration" {
		return "", S3SettingUnsupported
	}
	return string(out.Status), S3SettingOK
}

func (s *S3Spec) publicAccessBlock(ctx context.Context, client *s3.Client) *S3PublicAccessBlock {
	pab := &S3PublicAccessBlock{}
	var root string
	out, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(s.Bucket)}, s3CaptureRoot(&root))
	if err != nil {
		pab.Status, pab.Error = s3SettingError(err, "NoSuchPublicAccessBlockConfiguration")
		return pab
	}
	if root != "PublicAccessBlockConfiguration" || out.PublicAccessBlockConfiguration == nil {
		pab.Status = S3SettingUnsupported
		return pab
	}
	c := out.PublicAccessBlockConfiguration
	pab.Status = S3SettingOK
	pab.BlockPublicACLs = aws.ToBool(c.BlockPublicAcls)
	pab.IgnorePublicACLs = aws.ToBool(c.IgnorePublicAcls)
	pab.BlockPublicPolicy = aws.ToBool(c.BlockPublicPolicy)
	pab.RestrictPublicBuckets = aws.ToBool(c.RestrictPublicBuckets)
	return pab
}

func (s *S3Spec) newest(ctx context.Context, client *s3.Client) (*S3Newest, error) {
	n := &S3Newest{Prefix: s.NewestUnder}
	var newest *types.Object
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.Bucket),
		Prefix: aws.String(s.NewestUnder),
	})
	for p.HasMorePages() && n.Count < s.NewestMaxKeys {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for i := range page.Contents {
			if n.Count >= s.NewestMaxKeys {
				n.Truncated = true
				break
			}
			n.Count++
			o := &page.Contents[i]
			if o.LastModified != nil && (newest == nil || o.LastModified.After(*newest.LastModified)) {
				newest = o
			}
		}
	}
	if p.HasMorePages() {
		n.Truncated = true
	}
	if newest == nil {
		return n, nil
	}
	lm := newest.LastModified.UTC()
	age := time.Since(lm)
	hours := age.Hours()
	size := aws.ToInt64(newest.Size)
	n.Key, n.Size, n.LastModified, n.Age, n.AgeHours = aws.ToString(newest.Key), &size, &lm, &age, &hours
	return n, nil
}

// writeCheck puts a random probe object, reads it back, compares, and
// deletes it (its version too, in a versioned bucket).
func (s *S3Spec) writeCheck(ctx context.Context, env Env, client *s3.Client) *S3WriteCheck {
	wc := &S3WriteCheck{}
	body := make([]byte, s3ProbeObjectSize)
	_, _ = rand.Read(body)
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	wc.Key = s.ProbePrefix + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:])
	sum := sha256.Sum256(body)
	md := md5.Sum(body) //nolint:gosec // see import

	start := time.Now()
	put, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(s.Bucket),
		Key:               aws.String(wc.Key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String("application/octet-stream"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	wc.PutLatency = time.Since(start)
	if err != nil {
		wc.Error = "put: " + err.Error()
		env.logf("write check %s: %s", wc.Key, wc.Error)
		return wc
	}
	// From here on the object exists: delete it whatever happens, even when
	// the probe's context has ended.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.deleteProbeObject(dctx, client, wc.Key, aws.ToString(put.VersionId)); err != nil {
			if wc.Error == "" {
				wc.Error = "delete: " + err.Error()
			}
			env.logf("write check: delete %s: %v", wc.Key, err)
		} else {
			wc.Deleted = true
		}
		wc.OK = wc.Verified && wc.Deleted && wc.Error == ""
		env.logf("write check %s: ok=%v verified=%v checksum=%q deleted=%v put %s get %s",
			wc.Key, wc.OK, wc.Verified, wc.Checksum, wc.Deleted, wc.PutLatency, wc.GetLatency)
	}()

	start = time.Now()
	get, err := client.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       aws.String(s.Bucket),
		Key:          aws.String(wc.Key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		wc.GetLatency = time.Since(start)
		wc.Error = "get: " + err.Error()
		return wc
	}
	got, err := io.ReadAll(io.LimitReader(get.Body, 2*s3ProbeObjectSize))
	get.Body.Close()
	wc.GetLatency = time.Since(start)
	if err != nil {
		wc.Error = "get: " + err.Error()
		return wc
	}
	if !bytes.Equal(got, body) {
		wc.Error = fmt.Sprintf("verify: read back %d bytes that differ from the %d written", len(got), len(body))
		return wc
	}
	switch {
	case get.ChecksumSHA256 != nil:
		wc.Checksum = "sha256"
		if want := base64.StdEncoding.EncodeToString(sum[:]); !s3ChecksumEqual(*get.ChecksumSHA256, want) {
			wc.Error = fmt.Sprintf("verify: server's sha256 %s, bytes' %s", *get.ChecksumSHA256, want)
			return wc
		}
	case s3IsMD5ETag(aws.ToString(get.ETag)):
		// The ETag of a single-part object without SSE-KMS is its MD5.
		wc.Checksum = "md5"
		if etag := strings.Trim(aws.ToString(get.ETag), `"`); !strings.EqualFold(etag, hex.EncodeToString(md[:])) {
			wc.Error = fmt.Sprintf("verify: ETag %s is not the bytes' MD5 %s", etag, hex.EncodeToString(md[:]))
			return wc
		}
	}
	wc.Verified = true
	return wc
}

func (s *S3Spec) deleteProbeObject(ctx context.Context, client *s3.Client, key, versionID string) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)}
	if versionID != "" && versionID != "null" {
		// Versioned bucket: remove the version itself, not just hide it
		// behind a delete marker. Fall back to a plain delete when the
		// credentials may not delete versions.
		in.VersionId = aws.String(versionID)
		if _, err := client.DeleteObject(ctx, in); err == nil {
			return nil
		}
		in.VersionId = nil
	}
	_, err := client.DeleteObject(ctx, in)
	return err
}

// s3ChecksumEqual compares a server's checksum with ours; a composite
// checksum of a multipart upload ends in "-N" and is not comparable.
func s3ChecksumEqual(server, ours string) bool {
	if i := strings.LastIndexByte(server, '-'); i > 0 {
		return true
	}
	return server == ours
}

func s3IsMD5ETag(etag string) bool {
	etag = strings.Trim(etag, `"`)
	if len(etag) != 32 {
		return false
	}
	_, err := hex.DecodeString(etag)
	return err == nil
}

// s3IsNotFound reports whether err says the bucket does not exist.
func s3IsNotFound(err error) bool {
	var nf *types.NotFound
	var nb *types.NoSuchBucket
	if errors.As(err, &nf) || errors.As(err, &nb) {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// s3SettingError classifies a failed bucket-setting read. notConfigured is
// the error code meaning "the bucket has none".
func s3SettingError(err error, notConfigured string) (status, msg string) {
	var code string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	httpStatus := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		httpStatus = re.HTTPStatusCode()
	}
	switch {
	case notConfigured != "" && code == notConfigured:
		return S3SettingNone, ""
	case code == "NotImplemented" || code == "XNotImplemented" || code == "MethodNotAllowed" ||
		httpStatus == http.StatusNotImplemented || httpStatus == http.StatusMethodNotAllowed:
		return S3SettingUnsupported, ""
	case code == "AccessDenied" || httpStatus == http.StatusForbidden:
		return S3SettingDenied, err.Error()
	}
	return S3SettingError, err.Error()
}

// s3CaptureRoot records the name of the XML root element of a successful
// response, so that a server answering an unknown sub-resource as something
// else (a bucket listing) is told apart from a real, empty answer.
func s3CaptureRoot(dst *string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("prfCaptureRoot",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					if err != nil {
						return out, md, err
					}
					resp, ok := out.RawResponse.(*smithyhttp.Response)
					if !ok || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Body == nil {
						return out, md, err
					}
					body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
					resp.Body = io.NopCloser(bytes.NewReader(body))
					if rerr != nil {
						return out, md, rerr
					}
					*dst = s3RootElement(body)
					return out, md, nil
				}), middleware.After)
		})
	}
}

// s3RootElement is the local name of the first element in an XML document.
func s3RootElement(doc []byte) string {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local
		}
	}
}
