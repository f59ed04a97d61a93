package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The kubernetes probe's checks, in the order they are reported.
const (
	kubeCheckVersion         = "version"
	kubeCheckNodes           = "nodes"
	kubeCheckQuotas          = "quotas"
	kubeCheckDeployments     = "deployments"
	kubeCheckRestarts        = "restarts"
	kubeCheckNetworkPolicies = "network_policies"
	kubeCheckRBAC            = "rbac"
	kubeCheckPDBs            = "pdbs"
)

var kubeChecks = []string{
	kubeCheckVersion, kubeCheckNodes, kubeCheckQuotas, kubeCheckDeployments,
	kubeCheckRestarts, kubeCheckNetworkPolicies, kubeCheckRBAC, kubeCheckPDBs,
}

// kubeSystemNamespaces are left out when namespaces is not set.
var kubeSystemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// kubeListMax bounds every list of names in the observation (after
// sorting); the count beside a list stays exact.
const kubeListMax = 100

// kubePageSize is the page size of the list calls.
const kubePageSize = 500

// KubernetesSpec is the `kubernetes` probe's settings.
type KubernetesSpec struct {
	Kubeconfig       string        `yaml:"kubeconfig" json:"kubeconfig,omitempty" doc:"kubeconfig file, or in-cluster for the pod's service account; empty: the in-cluster service account when KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG or ~/.kube/config"`
	Context          string        `yaml:"context" json:"context,omitempty" doc:"kubeconfig context (default: its current context)"`
	Namespaces       []string      `yaml:"namespaces" json:"namespaces,omitempty" doc:"namespaces the namespaced checks look at (default: every namespace but kube-system, kube-public, kube-node-lease and those being deleted)"`
	Checks           []string      `yaml:"checks" json:"checks,omitempty" doc:"which checks to run: version, nodes, quotas, deployments, restarts, network_policies, rbac, pdbs (default all; the version is always read)"`
	RestartThreshold int           `yaml:"restart_threshold" json:"restart_threshold" doc:"a container restarted more than this many times is listed in restarts.pods_over_threshold (default 5)"`
	Deployments      []string      `yaml:"deployments" json:"deployments,omitempty" doc:"deployments (namespace/name) the deployments and pdbs checks look at; a missing one is reported (default: every deployment in the namespaces)"`
	Timeout          time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"time for all API calls together (default: the checkpoint's)"`
}

func (s *KubernetesSpec) defaults() {
	s.Checks = slices.Clone(kubeChecks)
	s.RestartThreshold = 5
}

// Validate implements Spec.
func (s *KubernetesSpec) Validate() error {
	seen := map[string]bool{}
	for i, c := range s.Checks {
		if !slices.Contains(kubeChecks, c) {
			return Fieldf(fmt.Sprintf("checks[%d]", i), "%q is not one of %s", c, strings.Join(kubeChecks, ", "))
		}
		if seen[c] {
			return Fieldf(fmt.Sprintf("checks[%d]", i), "%q is listed twice", c)
		}
		seen[c] = true
	}
	for i, ns := range s.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return Fieldf(fmt.Sprintf("namespaces[%d]", i), "%q is not a namespace name: %s", ns, errs[0])
		}
	}
	for i, d := range s.Deployments {
		ns, name, ok := strings.Cut(d, "/")
		if !ok || validation.IsDNS1123Label(ns) != nil || validation.IsDNS1123Subdomain(name) != nil {
			return Fieldf(fmt.Sprintf("deployments[%d]", i), "%q is not namespace/name", d)
		}
	}
	if s.RestartThreshold < 0 {
		return Fieldf("restart_threshold", "must not be negative")
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// KubernetesObservation is what a `kubernetes` probe saw. A check that was
// not asked for leaves its section out. Lists of names are sorted and hold
// at most 100 entries; the count beside a list is exact.
type KubernetesObservation struct {
	Reachable     bool          `json:"reachable"`
	Server        string        `json:"server"`         // the API server's URL
	ServerVersion string        `json:"server_version"` // e.g. "v1.37.2"
	ServerMajor   int           `json:"server_major"`
	ServerMinor   int           `json:"server_minor"`
	Latency       time.Duration `json:"latency"` // of GET /version
	// Namespaces are the namespaces the namespaced checks looked at.
	Namespaces []string `json:"namespaces"`
	Checks     []string `json:"checks"` // the checks that ran

	Nodes           *KubernetesNodes           `json:"nodes,omitempty"`
	Quotas          *KubernetesQuotas          `json:"quotas,omitempty"`
	Deployments     *KubernetesDeployments     `json:"deployments,omitempty"`
	Restarts        *KubernetesRestarts        `json:"restarts,omitempty"`
	NetworkPolicies *KubernetesNetworkPolicies `json:"network_policies,omitempty"`
	RBAC            *KubernetesRBAC            `json:"rbac,omitempty"`
	PDBs            *KubernetesPDBs            `json:"pdbs,omitempty"`
}

// KubernetesNodes is the nodes check: every node of the cluster.
type KubernetesNodes struct {
	Total int `json:"total"`
	Ready int `json:"ready"`
	// NotReady is "name: reason" for each node whose Ready condition is not
	// True (the condition's reason, e.g. KubeletNotReady or
	// NodeStatusUnknown; "no Ready condition" when it has none).
	NotReady      []string `json:"not_ready"`
	NotReadyCount int      `json:"not_ready_count"`
	// Pressure is "name: Type" for each MemoryPressure, DiskPressure,
	// PIDPressure or NetworkUnavailable condition that is True.
	Pressure []string `json:"pressure"`
	Cordoned []string `json:"cordoned"` // nodes marked unschedulable
	// Conditions maps node name → condition type → status ("True",
	// "False", "Unknown"), for the first 100 nodes by name.
	Conditions map[string]map[string]string `json:"conditions"`
}

// KubernetesQuotas is the quotas check.
type KubernetesQuotas struct {
	NamespacesWithout []string `json:"namespaces_without"` // namespaces with no ResourceQuota
	Count             int      `json:"count"`              // how many namespaces have none
}

// KubernetesDeployments is the deployments check.
type KubernetesDeployments struct {
	Total     int `json:"total"`
	Available int `json:"available"` // with condition Available=True
	// NotAvailable is "namespace/name: N of M replicas available (reason)"
	// for the others, and "namespace/name: not found" for a deployment the
	// spec names that does not exist.
	NotAvailable []string `json:"not_available"`
	// ProgressDeadlineExceeded is "namespace/name" for each deployment whose
	// Progressing condition has reason ProgressDeadlineExceeded.
	ProgressDeadlineExceeded []string `json:"progress_deadline_exceeded"`
	// RolledOut is true when every deployment's rollout is complete, as
	// `kubectl rollout status` decides: the controller observed the latest
	// generation, and every replica is updated and available with no old
	// replica left.
	RolledOut    bool     `json:"rolled_out"`
	NotRolledOut []string `json:"not_rolled_out"` // "namespace/name: why", in kubectl's words
	Missing      []string `json:"missing"`        // named in the spec, not found
}

// KubernetesRestarts is the restarts check over the pods' containers
// (init containers included).
type KubernetesRestarts struct {
	Threshold int `json:"threshold"`
	// PodsOverThreshold is "namespace/pod/container: N" for each container
	// restarted more than threshold times.
	PodsOverThreshold []string `json:"pods_over_threshold"`
	Count             int      `json:"count"`         // containers over the threshold
	Max               int      `json:"max"`           // highest restart count seen
	MaxContainer      string   `json:"max_container"` // "namespace/pod/container" of max
	// CrashLooping is "namespace/pod/container" for each container waiting
	// in CrashLoopBackOff.
	CrashLooping []string `json:"crash_looping"`
	Pods         int      `json:"pods"` // pods looked at
}

// KubernetesNetworkPolicies is the network_policies check. A default-deny
// policy selects every pod (podSelector {}), has Ingress among its
// policyTypes and no ingress rule.
type KubernetesNetworkPolicies struct {
	NamespacesWithoutDefaultDeny []string `json:"namespaces_without_default_deny"`
	Count                        int      `json:"count"` // namespaces without one
	Policies                     int      `json:"policies"`
}

// KubernetesRBAC is the rbac check: ClusterRoleBindings to the
// cluster-admin ClusterRole, cluster-wide whatever namespaces says. The
// built-in bindings (labelled kubernetes.io/bootstrapping=rbac-defaults or
// named system:…) and the group system:masters are left out.
type KubernetesRBAC struct {
	// ClusterAdminSubjects is "Kind name" for users and groups and
	// "ServiceAccount namespace/name" for service accounts.
	ClusterAdminSubjects []string `json:"cluster_admin_subjects"`
	Count                int      `json:"count"`
	// ServiceAccountsWithClusterAdmin is "namespace/name"; a binding to the
	// group system:serviceaccounts:NS shows as "NS/*", to
	// system:serviceaccounts as "*/*".
	ServiceAccountsWithClusterAdmin []string `json:"service_accounts_with_cluster_admin"`
	Bindings                        []string `json:"bindings"` // names of the ClusterRoleBindings found
}

// KubernetesPDBs is the pdbs check: which deployments no
// PodDisruptionBudget covers (none in their namespace selects their pod
// template's labels).
type KubernetesPDBs struct {
	DeploymentsWithoutPDB []string `json:"deployments_without_pdb"` // "namespace/name"
	Count                 int      `json:"count"`                   // deployments without one
	PDBs                  int      `json:"pdbs"`
	// ZeroDisruptionsAllowed is "namespace/name" for each PDB whose status
	// (once its controller has seen it) allows no disruption: a node drain
	// would block on it.
	ZeroDisruptionsAllowed []string `json:"zero_disruptions_allowed"`
}

func probeKubernetes(ctx context.Context, env Env, s *KubernetesSpec) (KubernetesObservation, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	obs := KubernetesObservation{Namespaces: []string{}, Checks: []string{}}
	cfg, err := kubeRESTConfig(s)
	if err != nil {
		return obs, err
	}
	obs.Server = cfg.Host
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return obs, fmt.Errorf("client: %w", err)
	}
	start := time.Now()
	v, err := kubeVersion(ctx, cs)
	obs.Latency = time.Since(start)
	if err != nil {
		env.logf("GET %s/version: %v", cfg.Host, err)
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			// The server answered, with an error (401, 403, 5xx).
			obs.Reachable = true
			return obs, fmt.Errorf("kubernetes API %s: GET /version: %w", cfg.Host, err)
		}
		return obs, fmt.Errorf("kubernetes API %s unreachable: %w", cfg.Host, err)
	}
	obs.Reachable = true
	obs.ServerVersion = v.GitVersion
	obs.ServerMajor, obs.ServerMinor = kubeMajorMinor(v)
	env.logf("%s: kubernetes %s in %s", cfg.Host, v.GitVersion, obs.Latency.Round(time.Millisecond))

	checks := s.Checks
	if len(checks) == 0 {
		checks = kubeChecks
	}
	want := func(c string) bool { return slices.Contains(checks, c) }
	k := &kubeRun{cs: cs, spec: s}
	namespaced := want(kubeCheckQuotas) || want(kubeCheckDeployments) || want(kubeCheckRestarts) ||
		want(kubeCheckNetworkPolicies) || want(kubeCheckPDBs)
	if namespaced {
		if err := k.resolveNamespaces(ctx); err != nil {
			return obs, err
		}
		obs.Namespaces = boundList(slices.Clone(k.namespaces))
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(name string, fn func(context.Context) error) {
		if !want(name) {
			return
		}
		obs.Checks = append(obs.Checks, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				env.logf("check %s: %v", name, err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("check %s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	if want(kubeCheckVersion) {
		obs.Checks = append(obs.Checks, kubeCheckVersion)
	}
	run(kubeCheckNodes, func(ctx context.Context) (err error) { obs.Nodes, err = k.nodes(ctx); return })
	run(kubeCheckQuotas, func(ctx context.Context) (err error) { obs.Quotas, err = k.quotas(ctx); return })
	run(kubeCheckDeployments, func(ctx context.Context) (err error) { obs.Deployments, err = k.deployments(ctx); return })
	run(kubeCheckRestarts, func(ctx context.Context) (err error) { obs.Restarts, err = k.restarts(ctx); return })
	run(kubeCheckNetworkPolicies, func(ctx context.Context) (err error) {
		obs.NetworkPolicies, err = k.networkPolicies(ctx)
		return
	})
	run(kubeCheckRBAC, func(ctx context.Context) (err error) { obs.RBAC, err = k.rbac(ctx); return })
	run(kubeCheckPDBs, func(ctx context.Context) (err error) { obs.PDBs, err = k.pdbs(ctx); return })
	wg.Wait()
	k.logSummary(env, &obs)
	if len(errs) > 0 {
		if ctx.Err() != nil {
			return obs, ctx.Err()
		}
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return obs, errors.Join(errs...)
	}
	return obs, nil
}

// kubeRESTConfig loads the client configuration: the in-cluster service
// account when kubeconfig and context are empty and the probe runs in a
// pod (or when Kubeconfig is InCluster), else the kubeconfig (explicit, or $KUBECONFIG / ~/.kube/config).
// InCluster as the kubeconfig setting selects the pod's service account.
const InCluster = "in-cluster"

func kubeRESTConfig(s *KubernetesSpec) (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	if s.Kubeconfig == InCluster || (s.Kubeconfig == "" && s.Context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "") {
		if cfg, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if s.Kubeconfig != "" {
			rules.ExplicitPath = expandHome(s.Kubeconfig)
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: s.Context}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			if s.Kubeconfig != "" {
				return nil, fmt.Errorf("kubeconfig %s: %w", s.Kubeconfig, err)
			}
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "prf"
	cfg.WarningHandler = rest.NoWarnings{}
	if s.Timeout > 0 {
		cfg.Timeout = s.Timeout
	}
	return cfg, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// kubeVersion is GET /version with the context (the discovery client's
// ServerVersion takes none).
func kubeVersion(ctx context.Context, cs kubernetes.Interface) (*version.Info, error) {
	var v version.Info
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("GET /version: %w", err)
	}
	return &v, nil
}

// kubeMajorMinor reads the server's major and minor version: its major
// and minor fields ("1", "37+" on some managed clusters), else its git
// version ("v1.37.2-gke.100").
func kubeMajorMinor(v *version.Info) (major, minor int) {
	major, errMajor := strconv.Atoi(strings.TrimRight(v.Major, "+"))
	minor, errMinor := strconv.Atoi(strings.TrimRight(v.Minor, "+"))
	if errMajor == nil && errMinor == nil {
		return major, minor
	}
	parts := strings.SplitN(strings.TrimPrefix(v.GitVersion, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, _ = strconv.Atoi(parts[0])
	minor, _ = strconv.Atoi(strings.TrimRight(parts[1], "+"))
	return major, minor
}

// kubeRun is one run of the probe.
type kubeRun struct {
	cs   kubernetes.Interface
	spec *KubernetesSpec
	// namespaces are the namespaces in scope, sorted; allNamespaces is set
	// when they were listed (not given), so that lists are cluster-wide
	// calls filtered to them instead of one call per namespace.
	namespaces    []string
	inScope       map[string]bool
	allNamespaces bool

	deployOnce sync.Once
	deploys    []appsv1.Deployment
	missing    []string
	deployErr  error
}

func (k *kubeRun) resolveNamespaces(ctx context.Context) error {
	if len(k.spec.Namespaces) > 0 {
		for _, ns := range k.spec.Namespaces {
			if _, err := k.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("namespace %q not found", ns)
				}
				return fmt.Errorf("get namespace %s: %w", ns, err)
			}
			k.namespaces = append(k.namespaces, ns)
		}
	} else {
		k.allNamespaces = true
		err := kubeEach(ctx, func(ctx context.Context, opts metav1.ListOptions) ([]corev1.Namespace, string, error) {
			l, err := k.cs.CoreV1().Namespaces().List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		}, func(ns *corev1.Namespace) {
			if slices.Contains(kubeSystemNamespaces, ns.Name) || ns.Status.Phase == corev1.NamespaceTerminating {
				return
			}
			k.namespaces = append(k.namespaces, ns.Name)
		})
		if err != nil {
			return fmt.Errorf("list namespaces: %w", err)
		}
	}
	sort.Strings(k.namespaces)
	k.namespaces = slices.Compact(k.namespaces)
	k.inScope = make(map[string]bool, len(k.namespaces))
	for _, ns := range k.namespaces {
		k.inScope[ns] = true
	}
	return nil
}

// kubeEach pages through a list call and calls visit for each item.
func kubeEach[T any](ctx context.Context, list func(ctx context.Context, opts metav1.ListOptions) ([]T, string, error), visit func(*T)) error {
	opts := metav1.ListOptions{Limit: kubePageSize}
	for {
		items, cont, err := list(ctx, opts)
		if err != nil {
			return err
		}
		for i := range items {
			visit(&items[i])
		}
		if cont == "" {
			return nil
		}
		opts.Continue = cont
	}
}

// eachNamespaced visits every item in the namespaces in scope: one
// cluster-wide list filtered to them when they were listed, else one list
// per namespace. list gets the namespace ("" for all).
func eachNamespaced[T any, PT interface {
	*T
	metav1.Object
}](ctx context.Context, k *kubeRun, list func(ctx context.Context, ns string, opts metav1.ListOptions) ([]T, string, error), visit func(PT)) error {
	namespaces := k.namespaces
	if k.allNamespaces {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		err := kubeEach(ctx, func(ctx context.Context, opts metav1.ListOptions) ([]T, string, error) {
			return list(ctx, ns, opts)
		}, func(item *T) {
			o := PT(item)
			if k.inScope[o.GetNamespace()] {
				visit(o)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (k *kubeRun) nodes(ctx context.Context) (*KubernetesNodes, error) {
	out := &KubernetesNodes{Conditions: map[string]map[string]string{}}
	var names, notReady, pressure, cordoned []string
	conds := map[string]map[string]string{}
	err := kubeEach(ctx, func(ctx context.Context, opts metav1.ListOptions) ([]corev1.Node, string, error) {
		l, err := k.cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(n *corev1.Node) {
		out.Total++
		names = append(names, n.Name)
		m := make(map[string]string, len(n.Status.Conditions))
		reason := "no Ready condition"
		ready := false
		for _, c := range n.Status.Conditions {
			m[string(c.Type)] = string(c.Status)
			switch c.Type {
			case corev1.NodeReady:
				ready = c.Status == corev1.ConditionTrue
				reason = c.Reason
				if reason == "" {
					reason = "Ready=" + string(c.Status)
				}
			case corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable:
				if c.Status == corev1.ConditionTrue {
					pressure = append(pressure, n.Name+": "+string(c.Type))
				}
			}
		}
		conds[n.Name] = m
		if ready {
			out.Ready++
		} else {
			notReady = append(notReady, n.Name+": "+reason)
		}
		if n.Spec.Unschedulable {
			cordoned = append(cordoned, n.Name)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out.NotReadyCount = len(notReady)
	out.NotReady = boundList(notReady)
	out.Pressure = boundList(pressure)
	out.Cordoned = boundList(cordoned)
	for _, n := range boundList(names) {
		out.Conditions[n] = conds[n]
	}
	return out, nil
}

func (k *kubeRun) quotas(ctx context.Context) (*KubernetesQuotas, error) {
	has := map[string]bool{}
	err := eachNamespaced(ctx, k, func(ctx context.Context, ns string, opts metav1.ListOptions) ([]corev1.ResourceQuota, string, error) {
		l, err := k.cs.CoreV1().ResourceQuotas(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(q *corev1.ResourceQuota) { has[q.Namespace] = true })
	if err != nil {
		return nil, fmt.Errorf("list resourcequotas: %w", err)
	}
	var without []string
	for _, ns := range k.namespaces {
		if !has[ns] {
			without = append(without, ns)
		}
	}
	return &KubernetesQuotas{NamespacesWithout: boundList(without), Count: len(without)}, nil
}

func (k *kubeRun) networkPolicies(ctx context.Context) (*KubernetesNetworkPolicies, error) {
	out := &KubernetesNetworkPolicies{}
	deny := map[string]bool{}
	err := eachNamespaced(ctx, k, func(ctx context.Context, ns string, opts metav1.ListOptions) ([]networkingv1.NetworkPolicy, string, error) {
		l, err := k.cs.NetworkingV1().NetworkPolicies(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(p *networkingv1.NetworkPolicy) {
		out.Policies++
		if isDefaultDenyIngress(p) {
			deny[p.Namespace] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list networkpolicies: %w", err)
	}
	var without []string
	for _, ns := range k.namespaces {
		if !deny[ns] {
			without = append(without, ns)
		}
	}
	out.NamespacesWithoutDefaultDeny, out.Count = boundList(without), len(without)
	return out, nil
}

// isDefaultDenyIngress reports whether p selects every pod of its namespace
// and allows no ingress. An empty policyTypes means Ingress (the API
// server's default).
func isDefaultDenyIngress(p *networkingv1.NetworkPolicy) bool {
	sel := p.Spec.PodSelector
	if len(sel.MatchLabels) > 0 || len(sel.MatchExpressions) > 0 {
		return false
	}
	ingress := len(p.Spec.PolicyTypes) == 0 || slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	return ingress && len(p.Spec.Ingress) == 0
}

// loadDeployments returns the deployments the deployments and pdbs checks
// share: those the spec names (and the names not found), else every one in
// the namespaces.
func (k *kubeRun) loadDeployments(ctx context.Context) ([]appsv1.Deployment, []string, error) {
	k.deployOnce.Do(func() {
		if len(k.spec.Deployments) > 0 {
			for _, ref := range k.spec.Deployments {
				ns, name, _ := strings.Cut(ref, "/")
				d, err := k.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					k.missing = append(k.missing, ref)
					continue
				}
				if err != nil {
					k.deployErr = fmt.Errorf("get deployment %s: %w", ref, err)
					return
				}
				k.deploys = append(k.deploys, *d)
			}
			return
		}
		k.deployErr = eachNamespaced(ctx, k, func(ctx context.Context, ns string, opts metav1.ListOptions) ([]appsv1.Deployment, string, error) {
			l, err := k.cs.AppsV1().Deployments(ns).List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		}, func(d *appsv1.Deployment) { k.deploys = append(k.deploys, *d) })
		if k.deployErr != nil {
			k.deployErr = fmt.Errorf("list deployments: %w", k.deployErr)
		}
	})
	return k.deploys, k.missing, k.deployErr
}

func (k *kubeRun) deployments(ctx context.Context) (*KubernetesDeployments, error) {
	deploys, missing, err := k.loadDeployments(ctx)
	if err != nil {
		return nil, err
	}
	out := &KubernetesDeployments{Total: len(deploys), Missing: boundList(slices.Clone(missing))}
	var notAvailable, deadline, notRolledOut []string
	for _, ref := range missing {
		notAvailable = append(notAvailable, ref+": not found")
		notRolledOut = append(notRolledOut, ref+": not found")
	}
	for i := range deploys {
		d := &deploys[i]
		ref := d.Namespace + "/" + d.Name
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		avail := deploymentCondition(d, appsv1.DeploymentAvailable)
		if avail != nil && avail.Status == corev1.ConditionTrue {
			out.Available++
		} else {
			reason := "no Available condition yet"
			if avail != nil {
				reason = avail.Reason
			}
			notAvailable = append(notAvailable, fmt.Sprintf("%s: %d of %d replicas available (%s)", ref, d.Status.AvailableReplicas, want, reason))
		}
		if p := deploymentCondition(d, appsv1.DeploymentProgressing); p != nil && p.Reason == "ProgressDeadlineExceeded" {
			deadline = append(deadline, ref)
		}
		if why := rolloutPending(d); why != "" {
			notRolledOut = append(notRolledOut, ref+": "+why)
		}
	}
	out.NotAvailable = boundList(notAvailable)
	out.ProgressDeadlineExceeded = boundList(deadline)
	out.RolledOut = len(notRolledOut) == 0
	out.NotRolledOut = boundList(notRolledOut)
	return out, nil
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// rolloutPending says why a deployment's rollout is not complete, in the
// words of kubectl's DeploymentStatusViewer, or "" when it is.
func rolloutPending(d *appsv1.Deployment) string {
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for deployment spec update to be observed"
	}
	if c := deploymentCondition(d, appsv1.DeploymentProgressing); c != nil && c.Reason == "ProgressDeadlineExceeded" {
		return "exceeded its progress deadline"
	}
	if d.Spec.Replicas != nil && d.Status.UpdatedReplicas < *d.Spec.Replicas {
		return fmt.Sprintf("%d out of %d new replicas have been updated", d.Status.UpdatedReplicas, *d.Spec.Replicas)
	}
	if d.Status.Replicas > d.Status.UpdatedReplicas {
		return fmt.Sprintf("%d old replicas are pending termination", d.Status.Replicas-d.Status.UpdatedReplicas)
	}
	if d.Status.AvailableReplicas < d.Status.UpdatedReplicas {
		return fmt.Sprintf("%d of %d updated replicas are available", d.Status.AvailableReplicas, d.Status.UpdatedReplicas)
	}
	return ""
}

func (k *kubeRun) restarts(ctx context.Context) (*KubernetesRestarts, error) {
	out := &KubernetesRestarts{Threshold: k.spec.RestartThreshold}
	var over, looping []string
	err := eachNamespaced(ctx, k, func(ctx context.Context, ns string, opts metav1.ListOptions) ([]corev1.Pod, string, error) {
		l, err := k.cs.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(p *corev1.Pod) {
		out.Pods++
		for _, statuses := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, c := range statuses {
				ref := p.Namespace + "/" + p.Name + "/" + c.Name
				n := int(c.RestartCount)
				if n > out.Max || (n == out.Max && n > 0 && ref < out.MaxContainer) {
					out.Max, out.MaxContainer = n, ref
				}
				if n > k.spec.RestartThreshold {
					over = append(over, fmt.Sprintf("%s: %d", ref, n))
				}
				if c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff" {
					looping = append(looping, ref)
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out.Count = len(over)
	out.PodsOverThreshold = boundList(over)
	out.CrashLooping = boundList(looping)
	return out, nil
}

func (k *kubeRun) rbac(ctx context.Context) (*KubernetesRBAC, error) {
	var subjects, sas, bindings []string
	err := kubeEach(ctx, func(ctx context.Context, opts metav1.ListOptions) ([]rbacv1.ClusterRoleBinding, string, error) {
		l, err := k.cs.RbacV1().ClusterRoleBindings().List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(b *rbacv1.ClusterRoleBinding) {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != "cluster-admin" {
			return
		}
		if strings.HasPrefix(b.Name, "system:") || b.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" {
			return
		}
		found := false
		for _, s := range b.Subjects {
			switch s.Kind {
			case rbacv1.ServiceAccountKind:
				subjects = append(subjects, "ServiceAccount "+s.Namespace+"/"+s.Name)
				sas = append(sas, s.Namespace+"/"+s.Name)
			case rbacv1.GroupKind:
				if s.Name == "system:masters" {
					continue
				}
				subjects = append(subjects, "Group "+s.Name)
				if s.Name == "system:serviceaccounts" {
					sas = append(sas, "*/*")
				} else if ns, ok := strings.CutPrefix(s.Name, "system:serviceaccounts:"); ok {
					sas = append(sas, ns+"/*")
				}
			default:
				subjects = append(subjects, s.Kind+" "+s.Name)
			}
			found = true
		}
		if found {
			bindings = append(bindings, b.Name)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list clusterrolebindings: %w", err)
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	slices.Sort(sas)
	sas = slices.Compact(sas)
	return &KubernetesRBAC{
		ClusterAdminSubjects:            boundList(subjects),
		Count:                           len(subjects),
		ServiceAccountsWithClusterAdmin: boundList(sas),
		Bindings:                        boundList(bindings),
	}, nil
}

func (k *kubeRun) pdbs(ctx context.Context) (*KubernetesPDBs, error) {
	deploys, _, err := k.loadDeployments(ctx)
	if err != nil {
		return nil, err
	}
	out := &KubernetesPDBs{}
	selectors := map[string][]labels.Selector{} // namespace → PDB selectors
	var zero []string
	err = eachNamespaced(ctx, k, func(ctx context.Context, ns string, opts metav1.ListOptions) ([]policyv1.PodDisruptionBudget, string, error) {
		l, err := k.cs.PolicyV1().PodDisruptionBudgets(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(p *policyv1.PodDisruptionBudget) {
		out.PDBs++
		if p.Status.ObservedGeneration >= p.Generation && p.Status.DisruptionsAllowed == 0 {
			zero = append(zero, p.Namespace+"/"+p.Name)
		}
		if p.Spec.Selector == nil { // policy/v1: a nil selector selects nothing
			return
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			return
		}
		selectors[p.Namespace] = append(selectors[p.Namespace], sel)
	})
	if err != nil {
		return nil, fmt.Errorf("list poddisruptionbudgets: %w", err)
	}
	// Deployments named in the spec may lie outside the namespaces in
	// scope: read their namespaces' PDBs too.
	for _, d := range deploys {
		if k.inScope[d.Namespace] {
			continue
		}
		if _, done := selectors[d.Namespace]; done {
			continue
		}
		selectors[d.Namespace] = []labels.Selector{}
		l, err := k.cs.PolicyV1().PodDisruptionBudgets(d.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list poddisruptionbudgets in %s: %w", d.Namespace, err)
		}
		for i := range l.Items {
			if l.Items[i].Spec.Selector == nil {
				continue
			}
			if sel, err := metav1.LabelSelectorAsSelector(l.Items[i].Spec.Selector); err == nil {
				selectors[d.Namespace] = append(selectors[d.Namespace], sel)
			}
		}
	}
	var without []string
	for _, d := range deploys {
		set := labels.Set(d.Spec.Template.Labels)
		covered := false
		for _, sel := range selectors[d.Namespace] {
			if sel.Matches(set) {
				covered = true
				break
			}
		}
		if !covered {
			without = append(without, d.Namespace+"/"+d.Name)
		}
	}
	out.DeploymentsWithoutPDB, out.Count = boundList(without), len(without)
	out.ZeroDisruptionsAllowed = boundList(zero)
	return out, nil
}

func (k *kubeRun) logSummary(env Env, obs *KubernetesObservation) {
	if n := obs.Nodes; n != nil {
		env.logf("nodes: %d of %d ready", n.Ready, n.Total)
	}
	if d := obs.Deployments; d != nil {
		env.logf("deployments: %d of %d available, rolled out %v", d.Available, d.Total, d.RolledOut)
	}
	if q := obs.Quotas; q != nil {
		env.logf("quotas: %d of %d namespaces without", q.Count, len(k.namespaces))
	}
	if r := obs.Restarts; r != nil {
		env.logf("restarts: %d containers over %d, max %d", r.Count, r.Threshold, r.Max)
	}
	if p := obs.NetworkPolicies; p != nil {
		env.logf("network policies: %d of %d namespaces without default deny", p.Count, len(k.namespaces))
	}
	if r := obs.RBAC; r != nil {
		env.logf("rbac: %d cluster-admin subjects", r.Count)
	}
	if p := obs.PDBs; p != nil {
		env.logf("pdbs: %d deployments without one", p.Count)
	}
}

// boundList sorts names and keeps the first kubeListMax; never nil, so an
// expectation can take size() of it.
func boundList(names []string) []string {
	if names == nil {
		return []string{}
	}
	sort.Strings(names)
	if len(names) > kubeListMax {
		names = names[:kubeListMax]
	}
	return names
}
