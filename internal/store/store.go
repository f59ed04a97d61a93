// Package store keeps runs and their results. One interface, one contract
// suite (storetest), one implementation per backend (sqlite now, postgres
// later). Reports read only what is stored here.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Status of one checkpoint's result.
type Status string

const (
	StatusPass    Status = "pass"
	StatusFail    Status = "fail"    // a blocking, enforced checkpoint failed
	StatusWarn    Status = "warn"    // a non-blocking (or mode: warn) checkpoint failed
	StatusError   Status = "error"   // the probe could not run: refused, DNS, timeout, bad expression value
	StatusSkipped Status = "skipped" // not run, with the reason in Message (e.g. a dependency failed)
	StatusPending Status = "pending" // manual: waits for an attestation by its owner
)

// Statuses lists every status in report order.
var Statuses = []Status{StatusPass, StatusFail, StatusWarn, StatusError, StatusSkipped, StatusPending}

// Why a skipped checkpoint did not run (Result.Skip).
const (
	SkipDependency    = "dependency"     // a checkpoint it depends on did not pass: blocks
	SkipNotConfigured = "not_configured" // reads a variable or secret that is not set: does not block
	SkipDisabled      = "disabled"       // left out on purpose, with a reason: does not block
	SkipFailFast      = "fail_fast"      // not run: --fail-fast stopped the run at a blocking failure: blocks
)

// RunState is where a run is in its life.
type RunState string

const (
	RunRunning     RunState = "running"
	RunCompleted   RunState = "completed"
	RunInterrupted RunState = "interrupted" // cancelled, killed, or crashed: holds every result it reported
)

// Verdict of a run.
type Verdict string

const (
	VerdictReady    Verdict = "ready"
	VerdictNotReady Verdict = "not_ready"
)

// Run is one execution of a checklist.
type Run struct {
	ID              string         `json:"run_id"`
	Checklist       string         `json:"checklist"`
	ChecklistDigest string         `json:"checklist_sha256"`
	ChecklistFile   string         `json:"checklist_file,omitempty"`
	Environment     string         `json:"environment,omitempty"`
	StartedAt       time.Time      `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	State           RunState       `json:"state"`
	Verdict         Verdict        `json:"verdict,omitempty"`
	Summary         map[Status]int `json:"summary"`
	Total           int            `json:"total"` // checkpoints planned
	Host            string         `json:"host,omitempty"`
	PID             int            `json:"pid,omitempty"` // of the process running it, to detect a crash
}

// Result is one checkpoint's outcome in one run. It keeps what it judged:
// the observation, the expression and the values the expression read, so a
// failure can be understood without running it again.
type Result struct {
	RunID       string          `json:"-"`
	Seq         int             `json:"-"` // order in which it was recorded
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Source      string          `json:"source,omitempty"` // place in the source document, e.g. §2.1 row 4
	Domain      string          `json:"domain"`
	Category    string          `json:"category"`
	Owner       string          `json:"owner"`
	Severity    string          `json:"severity"`
	Mode        string          `json:"mode"`
	Kind        string          `json:"kind,omitempty"` // probe kind, "" for manual
	Validation  string          `json:"validation,omitempty"`
	Controls    []string        `json:"controls,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	Status      Status          `json:"status"`
	Skip        string          `json:"skip,omitempty"` // with StatusSkipped: SkipDependency, SkipNotConfigured, SkipDisabled or SkipFailFast
	Message     string          `json:"message"`
	Expect      string          `json:"expect,omitempty"`
	Values      json.RawMessage `json:"values,omitempty"`      // what the expression read, redacted
	Observation json.RawMessage `json:"observation,omitempty"` // redacted
	Log         []string        `json:"log,omitempty"`
	StartedAt   time.Time       `json:"started_at"`
	DurationMS  float64         `json:"duration_ms"`
	Attempts    int             `json:"attempts"`
	// Position is the checkpoint's place in its checklist (0-based); reports
	// list results in checklist order, whatever order they finished in.
	Position int `json:"position"`
}

// Blocks reports whether a result keeps its run from being ready: an
// enforced, blocking checkpoint that did not pass (failed, errored, was
// skipped because a dependency did not pass, or is pending an
// attestation). A checkpoint that is not configured or was disabled with a
// reason does not block; reports count those apart. The values match the
// checklist's mode and severity names.
func (r *Result) Blocks() bool {
	if r.Status == StatusSkipped && (r.Skip == SkipNotConfigured || r.Skip == SkipDisabled) {
		return false
	}
	return r.Mode == "enforce" && r.Severity == "blocking" && r.Status != StatusPass
}

// Manual reports whether the checkpoint needs a person (no probe).
func (r *Result) Manual() bool { return r.Kind == "" }

// Attestation is an owner's signed word on a manual checkpoint of a run:
// the result takes Status and Message; Statement is the signed statement
// as it was signed (JSON), kept to be verified again.
type Attestation struct {
	RunID        string          `json:"run_id"`
	CheckpointID string          `json:"checkpoint_id"`
	Status       Status          `json:"status"`
	Message      string          `json:"message,omitempty"`
	Signer       string          `json:"signer"`
	At           time.Time       `json:"at"`
	Statement    json.RawMessage `json:"statement"`
}

// Signoff is a role's signed approval of a run's results as they were
// (ResultsDigest); a later change of the results makes it stale.
type Signoff struct {
	RunID         string          `json:"run_id"`
	Role          string          `json:"role"`
	Signer        string          `json:"signer"`
	ResultsDigest string          `json:"results_sha256"`
	At            time.Time       `json:"at"`
	Statement     json.RawMessage `json:"statement"`
}

// NewID returns a time-ordered id such as 20261125-193012-3f9a1c: the
// form of run and deployment ids.
func NewID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// RunFilter narrows ListRuns.
type RunFilter struct {
	Checklist string
	Limit     int // 0: no limit
}

// ErrNotFound is returned for an unknown run.
var ErrNotFound = errors.New("not found")

// ErrAmbiguous is returned when a run id prefix matches more than one run.
var ErrAmbiguous = errors.New("ambiguous run id")

// Store is PRF's persistence. Every method is safe for concurrent use.
// AddResults is durable when it returns: a crash or kill after that loses
// none of those results.
type Store interface {
	CreateRun(ctx context.Context, run *Run) error
	AddResults(ctx context.Context, runID string, results []Result) error
	// FinishRun sets the run's final state, verdict, summary and end time.
	FinishRun(ctx context.Context, run *Run) error
	// GetRun finds a run by id or by a unique id prefix.
	GetRun(ctx context.Context, id string) (*Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// Results of a run, in the order they were recorded.
	Results(ctx context.Context, runID string) ([]Result, error)
	// RecoverInterrupted marks as interrupted every run still `running`
	// whose process is gone (alive reports whether host/pid still runs),
	// fills in its summary from the stored results, and returns their ids.
	RecoverInterrupted(ctx context.Context, alive func(host string, pid int) bool) ([]string, error)
	Close() error
}

// Summarize counts results by status.
func Summarize(results []Result) map[Status]int {
	m := make(map[Status]int, len(Statuses))
	for _, s := range Statuses {
		m[s] = 0
	}
	for _, r := range results {
		m[r.Status]++
	}
	return m
}

// Outcomes of a deployment: what happened after it. A risk model learns
// which changes fail from them.
const (
	OutcomeSuccess    = "success"     // it stayed: no rollback, no incident
	OutcomeRolledBack = "rolled_back" // it was rolled back (or rolled forward with a fix) because it misbehaved
	OutcomeIncident   = "incident"    // it caused an incident while it stayed
	OutcomeUnknown    = "unknown"     // not known yet (or never recorded); left out of failure rates
)

// Outcomes lists every deployment outcome.
var Outcomes = []string{OutcomeSuccess, OutcomeRolledBack, OutcomeIncident, OutcomeUnknown}

// Deployment is one deployment of a service to an environment: which
// revisions it went from and to, when, and how it turned out.
type Deployment struct {
	ID          string    `json:"id"`
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	FromRev     string    `json:"from_rev,omitempty"` // git revision deployed before; "" when not known
	ToRev       string    `json:"to_rev"`             // git revision deployed
	Time        time.Time `json:"time"`               // when it was deployed (UTC)
	Outcome     string    `json:"outcome"`            // one of Outcomes
	RunID       string    `json:"run_id,omitempty"`   // the readiness run it deployed after
	Note        string    `json:"note,omitempty"`
	RecordedAt  time.Time `json:"recorded_at"` // when it was stored
}

// Failed reports whether the deployment failed (rolled back or caused an
// incident), and whether that is known at all: an unknown (or unrecognized)
// outcome is neither a failure nor a success.
func (d Deployment) Failed() (failed, known bool) {
	switch d.Outcome {
	case OutcomeSuccess:
		return false, true
	case OutcomeRolledBack, OutcomeIncident:
		return true, true
	}
	return false, false
}

// DeploymentFilter narrows Deployments. Zero fields do not filter.
type DeploymentFilter struct {
	Service     string
	Environment string
	Since       time.Time // deployed at or after
	Until       time.Time // deployed before
	Limit       int       // the most recent Limit deployments (still oldest first); 0: no limit
}

// DuplicateError is returned when a record with an id that is already
// stored is added again.
type DuplicateError struct {
	What string // e.g. "deployment"
	ID   string
}

func (e *DuplicateError) Error() string { return e.What + " " + e.ID + ": this id is already stored" }

// AuditEntry is one event of the audit log, as stored. internal/audit
// hashes, signs and verifies it; the store only keeps it in seq order.
type AuditEntry struct {
	Seq     int64           `json:"seq"`     // 1-based, contiguous
	Time    time.Time       `json:"time"`    // UTC, RFC 3339 with nanoseconds in JSON
	Actor   string          `json:"actor"`   // key id of the signer: a person's email, or "prf-instance:<16 hex>"
	Kind    string          `json:"kind"`    // run.started, signoff, …
	Payload json.RawMessage `json:"payload"` // the event, compact JSON
	Prev    string          `json:"prev"`    // hex SHA-256 of the previous entry ("" for seq 1)
	Hash    string          `json:"hash"`    // hex SHA-256 of the canonical bytes of {seq, time, actor, kind, payload, prev}
	Sig     string          `json:"sig"`     // base64 Ed25519 signature by Actor over the 32 hash bytes
}

// AuditCorruptError is a stored entry that a Store cannot decode (a time that
// does not parse, say); verification reports it as the broken entry.
type AuditCorruptError struct {
	Seq int64
	Err error
}

func (e *AuditCorruptError) Error() string {
	return fmt.Sprintf("audit entry seq %d: %v", e.Seq, e.Err)
}
func (e *AuditCorruptError) Unwrap() error { return e.Err }
