// Package checklist is PRF's model of a checklist as code: the YAML format,
// strict loading with file:line:col errors, variables, secret references
// and lint.
package checklist

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/probe"
)

// Version is the checklist format version this build reads.
const Version = 1

// Domains a checkpoint can belong to, in the document's order.
var Domains = []string{
	"infrastructure", "application", "security", "performance", "operations",
	"backup", "compliance", "deployment", "post-deployment", "rollback", "approval",
}

// Severities: a failed blocking checkpoint makes a run not ready; warning
// and info failures are reported as warn.
const (
	SeverityBlocking = "blocking"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Severities lists the valid severities.
var Severities = []string{SeverityBlocking, SeverityWarning, SeverityInfo}

// Modes: enforce (default) counts in the verdict; warn reports a failure but
// never blocks; shadow runs and stores but leaves the verdict alone, so a
// team can trial a check and later see how many runs it would have blocked.
const (
	ModeEnforce = "enforce"
	ModeWarn    = "warn"
	ModeShadow  = "shadow"
)

// Modes lists the valid modes.
var Modes = []string{ModeEnforce, ModeWarn, ModeShadow}

// DefaultTimeout applies to a checkpoint without `timeout`.
const DefaultTimeout = 30 * time.Second

// Checklist is a loaded, validated checklist.
type Checklist struct {
	Version     int               `yaml:"version" doc:"format version, 1"`
	Name        string            `yaml:"name" doc:"name of the checklist, shown in reports and used to group runs"`
	Description string            `yaml:"description" doc:"free text"`
	Vars        map[string]string `yaml:"vars" doc:"variables, used as ${vars.NAME} in probe settings and expect"`
	Secrets     map[string]string `yaml:"secrets" doc:"secret references (env:NAME or file:PATH), used as ${secrets.NAME} in probe settings; resolved at run time, never stored or printed; an empty reference declares a secret that is not configured"`
	Include     []string          `yaml:"include" doc:"checklists this one builds on, loaded first: \"catalog\" (PRF's built-in catalogue) or a path relative to this file"`
	Disable     []*Disable        `yaml:"disable" doc:"checkpoints (usually included ones) to leave out of runs, by id or by tag, each with the reason that reports show"`
	Override    []*Override       `yaml:"override" doc:"changes to checkpoints (usually included ones) by id: severity, mode, owner, timeout, retries, expect"`
	Checkpoints []*Checkpoint     `yaml:"checkpoints" doc:"the checkpoints"`
	Approvals   []*Approval       `yaml:"approvals" doc:"the approval matrix: the roles whose fresh sign-off a run needs before the CTO's deployment authorization (default: the document's §9.1 roles; the last file that sets it wins)"`
	Pos         Positions         `yaml:"-" json:"-"`

	File   string `yaml:"-"` // where it was loaded from
	Digest string `yaml:"-"` // SHA-256 of the file's bytes and of every included one, hex

	// Decls lists the declared variables and secrets in declaration order,
	// included files first, with the comment written above each (for prf
	// init and prf catalog show).
	Decls []Decl `yaml:"-"`
}

// Approval is one row of the approval matrix (§9.1).
type Approval struct {
	Role           string    `yaml:"role" json:"role" doc:"a role of the trust file, e.g. Security Lead"`
	Responsibility string    `yaml:"responsibility" json:"responsibility" doc:"what its sign-off vouches for"`
	AllowException bool      `yaml:"allow_exception" json:"allow_exception,omitempty" doc:"this role may sign off a run that is not ready, with a written reason (prf signoff --exception)"`
	Pos            Positions `yaml:"-" json:"-"`
}

// Decl is one declared variable or secret.
type Decl struct {
	Key string // "vars.NAME" or "secrets.NAME"
	Doc string // the comment above it, "" when none
}

// Doc returns the comment declared above a variable or secret
// ("vars.NAME", "secrets.NAME").
func (c *Checklist) Doc(key string) string {
	for _, d := range c.Decls {
		if d.Key == key {
			return d.Doc
		}
	}
	return ""
}

// Disable leaves checkpoints out of runs; they are reported as skipped with
// the reason, never silently dropped.
type Disable struct {
	ID     string    `yaml:"id" doc:"the checkpoint id"`
	Tag    string    `yaml:"tag" doc:"every checkpoint with this tag"`
	Reason string    `yaml:"reason" doc:"why (required; shown in reports)"`
	Pos    Positions `yaml:"-" json:"-"`
	file   string
}

// Override changes a checkpoint without copying it.
type Override struct {
	ID       string        `yaml:"id" doc:"the checkpoint id"`
	Severity string        `yaml:"severity" doc:"new severity"`
	Mode     string        `yaml:"mode" doc:"new mode"`
	Owner    string        `yaml:"owner" doc:"new owner"`
	Timeout  time.Duration `yaml:"timeout" doc:"new timeout per attempt"`
	Retries  *int          `yaml:"retries" doc:"new retry count"`
	Expect   string        `yaml:"expect" doc:"new expect expression"`
	Pos      Positions     `yaml:"-" json:"-"`
	file     string
}

// Checkpoint is one row of the checklist.
type Checkpoint struct {
	ID          string        `yaml:"id" doc:"unique, stable, dotted id (e.g. sec.tls.version)"`
	Title       string        `yaml:"title" doc:"what is checked, as the document words it"`
	Source      string        `yaml:"source" doc:"where it comes from in the source document, e.g. §2.1 row 4"`
	Description string        `yaml:"description" doc:"free text"`
	Domain      string        `yaml:"domain" doc:"one of the document's domains"`
	Category    string        `yaml:"category" doc:"group inside the domain (the document's table or component)"`
	Owner       string        `yaml:"owner" doc:"the role that owns it (e.g. DevOps Lead); attests it when manual"`
	Severity    string        `yaml:"severity" doc:"blocking (default), warning or info"`
	Mode        string        `yaml:"mode" doc:"enforce (default), warn (report, never block) or shadow (run and store, leave out of the verdict)"`
	Validation  string        `yaml:"validation" doc:"the document's validation method, shown in reports"`
	Controls    []string      `yaml:"controls" doc:"compliance references, e.g. NIST-800-53:SC-8"`
	Tags        []string      `yaml:"tags" doc:"free labels, for selecting checkpoints"`
	DependsOn   []string      `yaml:"depends_on" doc:"ids that must pass first; if one does not, this one is skipped"`
	Timeout     time.Duration `yaml:"timeout" doc:"per attempt (default 30s)"`
	Retries     int           `yaml:"retries" doc:"extra attempts after a failure or error, with backoff (default 0)"`
	RetryDelay  time.Duration `yaml:"retry_delay" doc:"first backoff delay, doubled each retry (default 1s)"`
	Exclusive   *bool         `yaml:"exclusive" doc:"run alone: start once no other checkpoint runs or is ready to, and start none meanwhile (default true for loadtest probes, which load the system and would skew the checks beside them)"`
	ProbeNode   yaml.Node     `yaml:"probe" doc:"the probe: kind plus its settings"`
	Expect      string        `yaml:"expect" doc:"CEL expression over the probe's observation that must hold"`
	ManualNode  yaml.Node     `yaml:"manual" doc:"true, or {evidence, instructions}: needs an attestation by the owner"`
	Pos         Positions     `yaml:"-" json:"-"`

	// Set by Load.
	Kind string `yaml:"-"` // probe kind, "" when manual
	// Alone is exclusive, or the probe kind's default when it is not set.
	Alone   bool            `yaml:"-"`
	Manual  *Manual         `yaml:"-"`
	Program *expect.Program `yaml:"-"`
	// File is the checklist file the checkpoint is written in.
	File string `yaml:"-"`
	// NotConfigured lists the empty variables and secrets its probe or
	// expect reads ("api_url", "secrets.database_dsn"); such a checkpoint is
	// skipped as not configured.
	NotConfigured []string `yaml:"-"`
	// Disabled is the reason a disable entry gave, "" when enabled.
	Disabled string `yaml:"-"`
	// expectFile is where an override wrote expect, for its errors.
	expectFile string
	// probeKind is the registry entry, settings the probe mapping without `kind`.
	probeKind probe.Kind
	settings  *yaml.Node
}

// Manual describes what a manual checkpoint needs from its owner.
type Manual struct {
	Evidence     string `yaml:"evidence" doc:"the evidence that satisfies it"`
	Instructions string `yaml:"instructions" doc:"how to check it"`
}

// Blocking reports whether a failure of cp can make a run not ready.
func (cp *Checkpoint) Blocking() bool {
	return cp.Severity == SeverityBlocking && cp.Mode == ModeEnforce
}

// ProbeKind returns the registry entry of an automated checkpoint.
func (cp *Checkpoint) ProbeKind() probe.Kind { return cp.probeKind }

// Lookup returns the checkpoint with id.
func (c *Checklist) Lookup(id string) *Checkpoint {
	for _, cp := range c.Checkpoints {
		if cp.ID == id {
			return cp
		}
	}
	return nil
}

// NotConfiguredReason says what to set for a not-configured checkpoint,
// e.g. "not configured: set api_url (--var api_url=...) and secret
// database_dsn (--secret database_dsn=env:NAME)"; "" when it is configured.
func (cp *Checkpoint) NotConfiguredReason() string {
	if len(cp.NotConfigured) == 0 {
		return ""
	}
	var vars, secrets []string
	for _, n := range cp.NotConfigured {
		if s, ok := strings.CutPrefix(n, "secrets."); ok {
			secrets = append(secrets, s)
		} else {
			vars = append(vars, n)
		}
	}
	var parts []string
	if len(vars) > 0 {
		parts = append(parts, fmt.Sprintf("set %s (--var %s=...)", strings.Join(vars, ", "), vars[0]))
	}
	if len(secrets) > 0 {
		parts = append(parts, fmt.Sprintf("secret %s (--secret %s=env:NAME)", strings.Join(secrets, ", "), secrets[0]))
	}
	return "not configured: " + strings.Join(parts, " and ")
}
