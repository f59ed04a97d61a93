package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/secretref"
	"github.com/prfhq/prf/internal/signoff"
)

// defaultTrustFile is where the team's trust file lives in a repository.
const defaultTrustFile = ".prf/trust.yaml"

func newIdentityCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Manage signing identities: your key pair and the team's trust file",
		Long: `Attestations, sign-offs and the deployment authorization are signed by
people, each with an Ed25519 key pair whose halves live in two places:

  private key   on your machine only, in the key directory ($PRF_KEY_DIR,
                default ~/.config/prf/keys), one file per email, mode 0600,
                optionally encrypted with a passphrase. Never commit it,
                never copy it into CI, never paste it anywhere.
  public key    in the trust file in the repository (` + defaultTrustFile + `), with
                your name, email and the roles you hold.

The trust file decides whose signature counts for which role, so review it
like code: adding a person or a role is a pull request that someone else
approves. A signature is valid only if it verifies against the key the
trust file lists for its signer, and a role counts only if the trust file
grants it; what a key file says about roles is only what was asked for.`,
		Example: `  prf identity new --name "Alice Example" --email alice@example.com --role "Security Lead"
  prf identity list
  prf identity show alice@example.com`,
	}
	cmd.AddCommand(newIdentityNewCmd(d, nil), newIdentityListCmd(d), newIdentityShowCmd(d))
	return cmd
}

type identityNewOpts struct {
	Name       string
	Email      string
	Roles      []string
	Passphrase string // a secret reference, never the passphrase
	Trust      string
	NoTrust    bool
}

func newIdentityNewCmd(d *deps, runF func(*identityNewOpts) error) *cobra.Command {
	o := &identityNewOpts{}
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Create a key pair for a person and add them to the trust file",
		Long: `Generate an Ed25519 key pair, keep the private key in the key directory
and add the person (name, email, roles, public key) to the trust file,
keeping everything already written there, comments included.

The email is the key's id: signatures name their signer by it. --role is
repeatable; the approval matrix's roles are Development Lead, Security
Lead, DevOps Lead, SRE Lead, Compliance Officer, Product Owner and CTO.

--passphrase encrypts the private key (scrypt, AES-256-GCM) with the
passphrase behind a reference, env:VAR or file:PATH, never the passphrase
itself, or asks for it on the terminal (--passphrase prompt, twice).
Commands that sign take the same reference, and ask on a terminal when an
encrypted key has none. Without it the key is stored unencrypted, readable
by your account only.

Then commit the trust file and have the change reviewed: a signature
counts only against the trust file the team has approved. --no-trust
leaves the trust file alone and prints the entry to add by hand (for a
trust file in another repository).`,
		Example: `  prf identity new --name "Alice Example" --email alice@example.com --role "Security Lead" --role CTO
  PRF_PASSPHRASE=... prf identity new --name "Bob" --email bob@example.com --role "SRE Lead" --passphrase env:PRF_PASSPHRASE
  prf identity new --name "Carol" --email carol@example.com --role "Product Owner" --no-trust`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runIdentityNew(d, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "the person's full name (required)")
	f.StringVar(&o.Email, "email", "", "the person's email: the key's id (required)")
	f.StringArrayVar(&o.Roles, "role", nil, `a role the person holds, e.g. "Security Lead" (required, repeatable)`)
	f.StringVar(&o.Passphrase, "passphrase", "", "encrypt the private key with the passphrase behind env:VAR or file:PATH, or prompt to be asked")
	f.StringVar(&o.Trust, "trust", defaultTrustFile, "trust file to add the person to")
	f.BoolVar(&o.NoTrust, "no-trust", false, "do not touch a trust file; print the entry to add instead")
	return cmd
}

func runIdentityNew(d *deps, o *identityNewOpts) error {
	switch {
	case strings.TrimSpace(o.Name) == "":
		return usagef("--name is required: the person's full name")
	case o.Email == "":
		return usagef("--email is required: it names the key")
	case len(o.Roles) == 0:
		return usagef(`--role is required: at least one role, e.g. --role "Security Lead"`)
	}
	var pass []byte
	if o.Passphrase != "" {
		var err error
		if pass, err = resolvePassphrase(d, o.Passphrase, o.Email, true); err != nil {
			return err
		}
	}
	dir, err := signoff.KeyDir(d.Getenv)
	if err != nil {
		return err
	}
	key, err := signoff.GenerateKey(o.Name, o.Email, o.Roles)
	if err != nil {
		return usageError{err}
	}
	// Refuse before writing anything, so a refusal leaves no orphan key.
	if ki, err := signoff.ReadKeyInfo(dir, o.Email); err == nil || !errors.Is(err, signoff.ErrNoKey) {
		return usagef("a key for %s already exists: %s (prf never overwrites a key; move it away first if you mean to replace it)", o.Email, ki.Path)
	}
	if !o.NoTrust {
		tr, err := signoff.LoadTrust(o.Trust)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			if p, ok := tr.Person(o.Email); ok {
				return usagef("%s is already in %s (line %d); to give them a new key, replace its public_key there in a reviewed change, or use --no-trust", p.Email, o.Trust, p.Pos.At("email").Line)
			}
		}
	}
	path, err := signoff.SaveKey(dir, key, pass)
	if err != nil {
		return err
	}
	pub := key.Public()
	fmt.Fprintf(d.Out, "Created the identity of %s <%s>, roles: %s.\n\n", key.Name, key.Email, strings.Join(key.Roles, ", "))
	fmt.Fprintf(d.Out, "  private key  %s\n", path)
	if pass != nil {
		from := "the passphrase behind " + o.Passphrase
		if o.Passphrase == passphrasePrompt {
			from = "the passphrase you typed"
		}
		fmt.Fprintf(d.Out, "               encrypted with %s; it stays here: never commit or share it\n", from)
	} else {
		fmt.Fprintf(d.Out, "               not encrypted (no --passphrase), readable by your account only; it stays here: never commit or share it\n")
	}
	fmt.Fprintf(d.Out, "  public key   %s\n", signoff.FormatPublicKey(pub))
	fmt.Fprintf(d.Out, "  fingerprint  %s\n\n", signoff.Fingerprint(pub))
	entry, err := signoff.FormatPerson(key.Person())
	if err != nil {
		return err
	}
	if o.NoTrust {
		fmt.Fprintf(d.Out, "The trust file was left alone (--no-trust). Add this entry under people: in the\nteam's trust file (%s) in a reviewed change:\n\n%s", defaultTrustFile, indent(string(entry), "  "))
		return nil
	}
	if err := signoff.AppendPerson(o.Trust, key.Person()); err != nil {
		fmt.Fprintf(d.ErrOut, "prf: the key is saved in %s, but the trust file was not updated; add this entry under people: in %s by hand:\n\n%s\n", path, o.Trust, indent(string(entry), "  "))
		return err
	}
	fmt.Fprintf(d.Out, "Added %s to the trust file %s. Commit it and have the change reviewed;\nsignatures by this key count once the change is merged:\n\n", key.Email, o.Trust)
	fmt.Fprintf(d.Out, "  git add %s\n  git commit -m \"trust: add %s\"\n", o.Trust, key.Email)
	return nil
}

// identityRow is a key as prf identity list and show describe it.
type identityRow struct {
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	PublicKey   string   `json:"public_key"`
	Fingerprint string   `json:"fingerprint"`
	KeyFile     string   `json:"key_file,omitempty"`
	Encrypted   bool     `json:"encrypted"`
	Mode        string   `json:"mode,omitempty"`
	// Trust is where the trust file stands on the key: "listed", "not
	// listed", "other key" (the trust file holds a different key for the
	// email), "no trust file" or "unreadable trust file".
	Trust      string   `json:"trust"`
	TrustLine  int      `json:"trust_line,omitempty"`
	TrustRoles []string `json:"trust_roles,omitempty"` // the roles that count
	Problem    string   `json:"problem,omitempty"`
}

const (
	trustListed     = "listed"
	trustNotListed  = "not listed"
	trustOtherKey   = "other key"
	trustNoFile     = "no trust file"
	trustUnreadable = "unreadable trust file"
)

// loadTrustFor loads the trust file for list and show: a missing one is
// not an error, a broken one is warned about.
func loadTrustFor(d *deps, path string) (*signoff.Trust, string) {
	tr, err := signoff.LoadTrust(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, trustNoFile
	}
	if err != nil {
		fmt.Fprintf(d.ErrOut, "prf: warning: the trust file does not load, so whether keys are in it is unknown:\n%v\n", err)
		return nil, trustUnreadable
	}
	return tr, ""
}

func identityRowOf(ki signoff.KeyInfo, tr *signoff.Trust, trustState string) identityRow {
	p := ki.Person
	r := identityRow{Email: p.Email, Name: p.Name, Roles: p.Roles, PublicKey: p.PublicKey, KeyFile: ki.Path, Encrypted: ki.Encrypted, Trust: trustState}
	if ki.Path != "" {
		r.Mode = fmt.Sprintf("%04o", ki.Mode.Perm())
	}
	if pub, err := signoff.ParsePublicKey(p.PublicKey); err == nil {
		r.Fingerprint = signoff.Fingerprint(pub)
	}
	if ki.Unprotected() {
		r.Problem = fmt.Sprintf("mode %04o lets others read the key, so prf refuses to use it: run chmod 600 %s", ki.Mode.Perm(), ki.Path)
	}
	if tr == nil {
		return r
	}
	tp, ok := tr.Person(p.Email)
	switch {
	case !ok:
		r.Trust = trustNotListed
	case tp.PublicKey != p.PublicKey:
		r.Trust, r.TrustLine = trustOtherKey, tp.Pos.At("public_key").Line
	default:
		r.Trust, r.TrustLine, r.TrustRoles = trustListed, tp.Pos.At("email").Line, tp.Roles
	}
	return r
}

func newIdentityListCmd(d *deps) *cobra.Command {
	var trustFile, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys in your key directory and whether the trust file lists them",
		Long: `List the private keys in the key directory ($PRF_KEY_DIR, default
~/.config/prf/keys): email, name, roles, public key fingerprint, whether the
key is passphrase-encrypted, and where the trust file stands on it:
"listed" (with this key), "not listed", or "other key" (the trust file has
a different key for the email: signatures by this one will not verify).
Nothing secret is printed, and no passphrase is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := textOrJSON(format); err != nil {
				return err
			}
			dir, err := signoff.KeyDir(d.Getenv)
			if err != nil {
				return err
			}
			infos, err := signoff.ListKeyInfo(dir)
			if err != nil {
				return err
			}
			tr, state := loadTrustFor(d, trustFile)
			rows := []identityRow{}
			for _, ki := range infos {
				if ki.Err != nil {
					fmt.Fprintf(d.ErrOut, "prf: warning: %v\n", ki.Err)
					continue
				}
				rows = append(rows, identityRowOf(ki, tr, state))
			}
			if format == "json" {
				return writeJSON(d.Out, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(d.ErrOut, "no keys in %s; create one with prf identity new\n", dir)
				return nil
			}
			tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tNAME\tROLES\tFINGERPRINT\tENCRYPTED\tTRUST FILE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Email, r.Name, strings.Join(r.Roles, ", "), r.Fingerprint, yesNo(r.Encrypted), r.Trust)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, r := range rows {
				if r.Problem != "" {
					fmt.Fprintf(d.ErrOut, "prf: warning: %s: %s\n", r.Email, r.Problem)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", defaultTrustFile, "trust file to compare the keys with")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newIdentityShowCmd(d *deps) *cobra.Command {
	var trustFile, format string
	cmd := &cobra.Command{
		Use:   "show EMAIL",
		Short: "Show one identity: its public key, key file and trust-file entry",
		Long: `Show what is known about an email: the key in your key directory (public
key, fingerprint, file, whether it is encrypted) and the trust file's entry
(its line, the roles it grants, whether its key is the same). Either may be
missing: a teammate is in the trust file but their key is on their machine.
Nothing secret is printed, and no passphrase is needed.`,
		Example: `  prf identity show alice@example.com
  prf identity show alice@example.com --trust deploy/.prf/trust.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := textOrJSON(format); err != nil {
				return err
			}
			return runIdentityShow(d, args[0], trustFile, format)
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", defaultTrustFile, "trust file to look the person up in")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	return cmd
}

func runIdentityShow(d *deps, email, trustFile, format string) error {
	dir, err := signoff.KeyDir(d.Getenv)
	if err != nil {
		return err
	}
	ki, kerr := signoff.ReadKeyInfo(dir, email)
	if kerr != nil && !errors.Is(kerr, signoff.ErrNoKey) {
		return kerr
	}
	tr, state := loadTrustFor(d, trustFile)
	var r identityRow
	if kerr == nil {
		r = identityRowOf(ki, tr, state)
	} else {
		tp, ok := tr.Person(email)
		if !ok {
			return usagef("no key for %s in %s, and %s does not list %s", email, dir, trustFile, email)
		}
		r = identityRow{Email: tp.Email, Name: tp.Name, PublicKey: tp.PublicKey, Trust: trustListed, TrustLine: tp.Pos.At("email").Line, TrustRoles: tp.Roles}
		if pub, err := signoff.ParsePublicKey(tp.PublicKey); err == nil {
			r.Fingerprint = signoff.Fingerprint(pub)
		}
	}
	if format == "json" {
		return writeJSON(d.Out, r)
	}
	writeIdentity(d.Out, r, dir, trustFile)
	if r.Problem != "" {
		fmt.Fprintf(d.ErrOut, "prf: warning: %s\n", r.Problem)
	}
	return nil
}

func writeIdentity(w io.Writer, r identityRow, dir, trustFile string) {
	fmt.Fprintf(w, "%s <%s>\n", r.Name, r.Email)
	fmt.Fprintf(w, "  public key   %s\n", r.PublicKey)
	fmt.Fprintf(w, "  fingerprint  %s\n", r.Fingerprint)
	if r.KeyFile == "" {
		fmt.Fprintf(w, "  key file     none in %s (the private key is on its owner's machine)\n", dir)
	} else {
		enc := "not encrypted"
		if r.Encrypted {
			enc = "encrypted"
		}
		fmt.Fprintf(w, "  key file     %s (%s, mode %s)\n", r.KeyFile, enc, r.Mode)
		fmt.Fprintf(w, "  roles asked  %s\n", strings.Join(r.Roles, ", "))
	}
	switch r.Trust {
	case trustListed:
		fmt.Fprintf(w, "  trust file   %s, line %d: grants %s\n", trustFile, r.TrustLine, strings.Join(r.TrustRoles, ", "))
	case trustOtherKey:
		fmt.Fprintf(w, "  trust file   %s, line %d, lists another key for %s: signatures by this key will not verify\n", trustFile, r.TrustLine, r.Email)
	case trustNotListed:
		fmt.Fprintf(w, "  trust file   %s does not list %s: add the entry (prf identity new prints it) in a reviewed change\n", trustFile, r.Email)
	default:
		fmt.Fprintf(w, "  trust file   %s (%s)\n", trustFile, r.Trust)
	}
}

// Helpers for the commands that sign (attest, signoff, authorize).

// passphrasePrompt is the --passphrase value that asks on the terminal.
const passphrasePrompt = "prompt"

// passphraseFrom returns a passphrase source for LoadKey, called only when
// the key is encrypted: it resolves ref (env:VAR, file:PATH or prompt),
// and with no ref asks on the terminal if there is one.
func passphraseFrom(d *deps, ref, email string) func() ([]byte, error) {
	return func() ([]byte, error) {
		if ref == "" {
			pass, err := askPassphrase(d, email, false)
			if errors.Is(err, errNoTerminal) {
				return nil, usagef("the key of %s is passphrase-protected: give --passphrase env:VAR or file:PATH (or run on a terminal to be asked)", email)
			}
			return pass, err
		}
		return resolvePassphrase(d, ref, email, false)
	}
}

// resolvePassphrase reads the passphrase behind a --passphrase value:
// env:VAR, file:PATH, or prompt (asked on the terminal, twice when confirm
// is set, for a new key). Anything else is refused without being echoed:
// it may be the passphrase itself.
func resolvePassphrase(d *deps, ref, email string, confirm bool) ([]byte, error) {
	if ref == passphrasePrompt {
		pass, err := askPassphrase(d, email, confirm)
		if errors.Is(err, errNoTerminal) {
			return nil, usagef("--passphrase prompt: %v; give env:VAR or file:PATH instead", err)
		}
		return pass, err
	}
	if secretref.Check(ref) != nil { // its message would echo the value
		return nil, usagef("--passphrase: want a reference, env:VAR or file:PATH, or prompt; never the passphrase itself")
	}
	v, err := secretref.Resolve(ref)
	if err != nil {
		return nil, usagef("--passphrase: %v", err)
	}
	return []byte(v), nil
}

// askPassphrase asks for the passphrase of email's key on the terminal;
// confirm asks twice and refuses an empty one or two that differ.
func askPassphrase(d *deps, email string, confirm bool) ([]byte, error) {
	if d.ReadPassword == nil {
		return nil, errNoTerminal
	}
	pass, err := d.ReadPassword(fmt.Sprintf("Passphrase for the key of %s: ", email))
	if err != nil || !confirm {
		return pass, err
	}
	if len(pass) == 0 {
		return nil, usagef("empty passphrase: leave out --passphrase for a key without one")
	}
	again, err := d.ReadPassword("Again, to confirm: ")
	if err != nil {
		return nil, err
	}
	if string(again) != string(pass) {
		return nil, usagef("the passphrases differ; nothing was written")
	}
	return pass, nil
}

// loadSigningKey loads the key to sign with: the one for email, or, when
// email is "", the only key in the key directory. passRef is the
// --passphrase reference ("" when none was given).
func loadSigningKey(d *deps, email, passRef string) (*signoff.Key, error) {
	dir, err := signoff.KeyDir(d.Getenv)
	if err != nil {
		return nil, err
	}
	if email == "" {
		people, err := signoff.ListKeys(dir)
		if len(people) != 1 {
			var emails []string
			for _, p := range people {
				emails = append(emails, p.Email)
			}
			switch {
			case len(people) == 0 && err != nil:
				return nil, err
			case len(people) == 0:
				return nil, usagef("no key in %s: create one with prf identity new (or set PRF_KEY_DIR)", dir)
			}
			return nil, usagef("%d keys in %s (%s): say which signs with --as EMAIL", len(people), dir, strings.Join(emails, ", "))
		}
		email = people[0].Email
	}
	k, err := signoff.LoadKey(dir, email, passphraseFrom(d, passRef, email))
	if errors.Is(err, signoff.ErrWrongPassphrase) || errors.Is(err, signoff.ErrNoKey) {
		return nil, usageError{err}
	}
	return k, err
}
