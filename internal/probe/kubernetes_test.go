package probe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/prfhq/prf/internal/testenv"
)

// The package's tests share one Kubernetes control plane (startup ~15 s).
func TestMain(m *testing.M) { os.Exit(testenv.KubeMain(m)) }

func TestKubernetesSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *KubernetesSpec)
		field string // "" when valid
	}{
		{"defaults", func(s *KubernetesSpec) {}, ""},
		{"every setting", func(s *KubernetesSpec) {
			s.Kubeconfig, s.Context = "/etc/kube/config", "prod"
			s.Namespaces = []string{"shop", "payments"}
			s.Checks = []string{"nodes", "rbac"}
			s.Deployments = []string{"shop/web", "payments/api.v2"}
			s.RestartThreshold, s.Timeout = 0, 10*time.Second
		}, ""},
		{"unknown check", func(s *KubernetesSpec) { s.Checks = []string{"nodes", "pods"} }, "checks[1]"},
		{"check twice", func(s *KubernetesSpec) { s.Checks = []string{"rbac", "rbac"} }, "checks[1]"},
		{"bad namespace", func(s *KubernetesSpec) { s.Namespaces = []string{"Shop"} }, "namespaces[0]"},
		{"deployment without namespace", func(s *KubernetesSpec) { s.Deployments = []string{"web"} }, "deployments[0]"},
		{"deployment with empty name", func(s *KubernetesSpec) { s.Deployments = []string{"shop/"} }, "deployments[0]"},
		{"negative threshold", func(s *KubernetesSpec) { s.RestartThreshold = -1 }, "restart_threshold"},
		{"negative timeout", func(s *KubernetesSpec) { s.Timeout = -time.Second }, "timeout"},
	}
	kind, ok := Default().Lookup("kubernetes")
	if !ok {
		t.Fatal("kind kubernetes not registered")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := kind.NewSpec().(*KubernetesSpec)
			tc.edit(s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != tc.field {
				t.Fatalf("Validate = %v, want an error on field %s", err, tc.field)
			}
		})
	}
	s := kind.NewSpec().(*KubernetesSpec)
	if !reflect.DeepEqual(s.Checks, kubeChecks) || s.RestartThreshold != 5 {
		t.Errorf("defaults: checks %v, restart_threshold %d", s.Checks, s.RestartThreshold)
	}
}

// writeKubeconfig writes a kubeconfig whose only context points at server.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKubernetesUnreachable(t *testing.T) {
	addr := testenv.Addr(testenv.FreePort(t))
	s := &KubernetesSpec{Kubeconfig: writeKubeconfig(t, "https://"+addr), Timeout: 5 * time.Second}
	s.defaults()
	obs, err := probeKubernetes(context.Background(), Env{}, s)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("err = %v, want unreachable", err)
	}
	if obs.Reachable || obs.Server != "https://"+addr {
		t.Errorf("reachable %v, server %q", obs.Reachable, obs.Server)
	}

	s = &KubernetesSpec{Kubeconfig: filepath.Join(t.TempDir(), "missing")}
	if _, err := probeKubernetes(context.Background(), Env{}, s); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("missing kubeconfig: err = %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", strings.TrimPrefix(addr, "127.0.0.1:"))
	if _, err := probeKubernetes(context.Background(), Env{}, &KubernetesSpec{}); err == nil || !strings.Contains(err.Error(), "in-cluster") {
		t.Errorf("in-cluster without a service account: err = %v", err)
	}
}

func TestKubernetesCluster(t *testing.T) {
	k := testenv.StartKube(t)
	const a, b = "prf-kube-a", "prf-kube-b"
	k.AddNode(t, "prf-kube-ready", true)
	k.AddNode(t, "prf-kube-notready", false)
	k.ApplyNamespace(t, a, nil)
	k.ApplyNamespace(t, b, nil)
	manifest, err := os.ReadFile("testdata/kubernetes-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{"prf-kube-deployer-admin", "prf-kube-ops-admin", "prf-kube-viewer"} {
			_ = k.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	k.ApplyYAML(t, "", string(manifest))
	ctx := context.Background()

	// A pod on the node kwok leaves alone keeps the status the test gives
	// it: a container restarted 7 times, now in CrashLoopBackOff.
	pod, err := k.Client.CoreV1().Pods(b).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crashy", Labels: map[string]string{"app": "crashy"}},
		Spec: corev1.PodSpec{
			NodeName:    "prf-kube-notready",
			Containers:  []corev1.Container{{Name: "app", Image: "registry.example/crashy:1.0"}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "registry.example/crashy:1.0", RestartCount: 7,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		}},
	}
	if _, err := k.Client.CoreV1().Pods(b).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	spec := func(edit func(s *KubernetesSpec)) *KubernetesSpec {
		s := &KubernetesSpec{Kubeconfig: k.Kubeconfig, Namespaces: []string{a, b}, Timeout: 20 * time.Second}
		s.defaults()
		if edit != nil {
			edit(s)
		}
		return s
	}
	probe := func(t *testing.T, s *KubernetesSpec) KubernetesObservation {
		t.Helper()
		obs, err := probeKubernetes(ctx, Env{Logf: t.Logf}, s)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		return obs
	}

	// Wait until the controllers have done their part: web rolled out,
	// stuck past its deadline, both PDBs observed.
	var obs KubernetesObservation
	deadline := time.Now().Add(90 * time.Second)
	for {
		obs = probe(t, spec(nil))
		d, p := obs.Deployments, obs.PDBs
		if d.Available == 1 && len(d.ProgressDeadlineExceeded) == 1 && slices.Equal(p.ZeroDisruptionsAllowed, []string{b + "/other"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not settled after 90s: deployments %+v, pdbs %+v\n%s", d, p, k.Logs())
		}
		time.Sleep(time.Second)
	}

	t.Run("version", func(t *testing.T) {
		if !obs.Reachable || !strings.HasPrefix(obs.ServerVersion, "v1.") || obs.ServerMajor != 1 || obs.ServerMinor < 30 {
			t.Errorf("reachable %v, version %q (%d.%d)", obs.Reachable, obs.ServerVersion, obs.ServerMajor, obs.ServerMinor)
		}
		if obs.Server != k.Server || !reflect.DeepEqual(obs.Namespaces, []string{a, b}) || !reflect.DeepEqual(obs.Checks, kubeChecks) {
			t.Errorf("server %q, namespaces %v, checks %v", obs.Server, obs.Namespaces, obs.Checks)
		}
	})
	t.Run("nodes", func(t *testing.T) {
		n := obs.Nodes
		if n.Total < 3 || n.Ready != n.Total-1 || n.NotReadyCount != 1 {
			t.Errorf("total %d, ready %d, not ready %d", n.Total, n.Ready, n.NotReadyCount)
		}
		if want := []string{"prf-kube-notready: KubeletNotReady"}; !reflect.DeepEqual(n.NotReady, want) {
			t.Errorf("not_ready = %q, want %q", n.NotReady, want)
		}
		if want := []string{"prf-kube-notready: MemoryPressure"}; !reflect.DeepEqual(n.Pressure, want) {
			t.Errorf("pressure = %q, want %q", n.Pressure, want)
		}
		if got := n.Conditions["prf-kube-notready"]; got["Ready"] != "False" || got["MemoryPressure"] != "True" || got["DiskPressure"] != "False" {
			t.Errorf("conditions of prf-kube-notready = %v", got)
		}
		if got := n.Conditions["prf-kube-ready"]; got["Ready"] != "True" {
			t.Errorf("conditions of prf-kube-ready = %v", got)
		}
	})
	t.Run("quotas", func(t *testing.T) {
		if q := obs.Quotas; !reflect.DeepEqual(q.NamespacesWithout, []string{b}) || q.Count != 1 {
			t.Errorf("quotas = %+v, want %s without", q, b)
		}
	})
	t.Run("network policies", func(t *testing.T) {
		if p := obs.NetworkPolicies; !reflect.DeepEqual(p.NamespacesWithoutDefaultDeny, []string{b}) || p.Count != 1 || p.Policies != 4 {
			t.Errorf("network_policies = %+v, want %s without default deny, 4 policies", p, b)
		}
	})
	t.Run("deployments", func(t *testing.T) {
		d := obs.Deployments
		want := &KubernetesDeployments{
			Total:                    2,
			Available:                1,
			NotAvailable:             []string{b + "/stuck: 0 of 1 replicas available (MinimumReplicasUnavailable)"},
			ProgressDeadlineExceeded: []string{b + "/stuck"},
			RolledOut:                false,
			NotRolledOut:             []string{b + "/stuck: exceeded its progress deadline"},
			Missing:                  []string{},
		}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("deployments = %+v\nwant %+v", d, want)
		}
	})
	t.Run("restarts", func(t *testing.T) {
		r := obs.Restarts
		want := &KubernetesRestarts{
			Threshold: 5, PodsOverThreshold: []string{b + "/crashy/app: 7"}, Count: 1,
			Max: 7, MaxContainer: b + "/crashy/app", CrashLooping: []string{b + "/crashy/app"}, Pods: 4,
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("restarts = %+v\nwant %+v", r, want)
		}
		obs := probe(t, spec(func(s *KubernetesSpec) { s.Checks, s.RestartThreshold = []string{"restarts"}, 7 }))
		if r := obs.Restarts; len(r.PodsOverThreshold) != 0 || r.Max != 7 {
			t.Errorf("threshold 7: restarts = %+v", r)
		}
	})
	t.Run("rbac", func(t *testing.T) {
		want := &KubernetesRBAC{
			ClusterAdminSubjects:            []string{"Group ops", "ServiceAccount " + a + "/deployer", "User alice"},
			Count:                           3,
			ServiceAccountsWithClusterAdmin: []string{a + "/deployer"},
			Bindings:                        []string{"prf-kube-deployer-admin", "prf-kube-ops-admin"},
		}
		if !reflect.DeepEqual(obs.RBAC, want) {
			t.Errorf("rbac = %+v\nwant %+v", obs.RBAC, want)
		}
	})
	t.Run("pdbs", func(t *testing.T) {
		want := &KubernetesPDBs{
			DeploymentsWithoutPDB:  []string{b + "/stuck"},
			Count:                  1,
			PDBs:                   2,
			ZeroDisruptionsAllowed: []string{b + "/other"},
		}
		if !reflect.DeepEqual(obs.PDBs, want) {
			t.Errorf("pdbs = %+v\nwant %+v", obs.PDBs, want)
		}
	})
	t.Run("named deployments", func(t *testing.T) {
		obs := probe(t, spec(func(s *KubernetesSpec) {
			s.Checks = []string{"deployments", "pdbs"}
			s.Deployments = []string{a + "/web"}
		}))
		if d := obs.Deployments; d.Total != 1 || d.Available != 1 || !d.RolledOut || len(d.NotAvailable) != 0 || len(d.NotRolledOut) != 0 {
			t.Errorf("web alone: deployments = %+v", d)
		}
		if p := obs.PDBs; p.Count != 0 {
			t.Errorf("web alone: pdbs = %+v", p)
		}
		// A named deployment outside the namespaces is still found, and a
		// missing one is reported.
		obs = probe(t, spec(func(s *KubernetesSpec) {
			s.Namespaces = []string{b}
			s.Checks = []string{"deployments", "pdbs"}
			s.Deployments = []string{a + "/web", a + "/gone"}
		}))
		d := obs.Deployments
		if d.Total != 1 || d.Available != 1 || d.RolledOut || !reflect.DeepEqual(d.Missing, []string{a + "/gone"}) ||
			!reflect.DeepEqual(d.NotAvailable, []string{a + "/gone: not found"}) ||
			!reflect.DeepEqual(d.NotRolledOut, []string{a + "/gone: not found"}) {
			t.Errorf("web and gone: deployments = %+v", d)
		}
		if p := obs.PDBs; p.Count != 0 {
			t.Errorf("web and gone: pdbs = %+v (web's PDB is in %s)", p, a)
		}
	})
	t.Run("checks subset", func(t *testing.T) {
		obs := probe(t, spec(func(s *KubernetesSpec) { s.Checks = []string{"nodes"} }))
		if obs.Nodes == nil || obs.Quotas != nil || obs.Deployments != nil || obs.RBAC != nil || len(obs.Namespaces) != 0 {
			t.Errorf("checks [nodes]: %+v", obs)
		}
		flat := Flatten(obs)
		for _, key := range []string{"quotas", "deployments", "restarts", "network_policies", "rbac", "pdbs"} {
			if _, ok := flat[key]; ok {
				t.Errorf("flattened observation has %q", key)
			}
		}
		if _, ok := flat["nodes"].(map[string]any)["not_ready"]; !ok {
			t.Errorf("flattened observation lacks nodes.not_ready: %v", flat["nodes"])
		}
	})
	t.Run("default namespaces", func(t *testing.T) {
		obs := probe(t, spec(func(s *KubernetesSpec) { s.Namespaces = nil; s.Checks = []string{"quotas"} }))
		if !slices.Contains(obs.Namespaces, a) || !slices.Contains(obs.Namespaces, b) || !slices.Contains(obs.Namespaces, "default") ||
			slices.Contains(obs.Namespaces, "kube-system") || slices.Contains(obs.Namespaces, "kube-node-lease") {
			t.Errorf("namespaces = %v", obs.Namespaces)
		}
		if slices.Contains(obs.Quotas.NamespacesWithout, a) || !slices.Contains(obs.Quotas.NamespacesWithout, b) {
			t.Errorf("quotas = %+v", obs.Quotas)
		}
	})
	t.Run("missing namespace", func(t *testing.T) {
		_, err := probeKubernetes(ctx, Env{}, spec(func(s *KubernetesSpec) { s.Namespaces = []string{"prf-kube-nope"} }))
		if err == nil || !strings.Contains(err.Error(), `namespace "prf-kube-nope" not found`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		// A user RBAC grants nothing reaches the API (GET /version is
		// public to authenticated users) but may not list nodes: a probe
		// error that names the check, with the observation kept.
		s := spec(func(s *KubernetesSpec) {
			s.Kubeconfig = k.UserKubeconfig(t, "prf-kube-nobody")
			s.Checks = []string{"version", "nodes"}
		})
		obs, err := probeKubernetes(ctx, Env{}, s)
		if err == nil || !strings.Contains(err.Error(), "check nodes") || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("err = %v, want check nodes forbidden", err)
		}
		if !obs.Reachable || obs.ServerVersion == "" {
			t.Errorf("reachable %v, version %q", obs.Reachable, obs.ServerVersion)
		}
	})
	t.Run("context", func(t *testing.T) {
		obs := probe(t, spec(func(s *KubernetesSpec) { s.Context = testenv.KubeContext; s.Checks = []string{"version"} }))
		if !obs.Reachable {
			t.Errorf("context %s: not reachable", testenv.KubeContext)
		}
		_, err := probeKubernetes(ctx, Env{}, spec(func(s *KubernetesSpec) { s.Context = "nope" }))
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("context nope: err = %v", err)
		}
	})
}

func TestKubernetesVersionParts(t *testing.T) {
	tests := []struct {
		info         version.Info
		major, minor int
	}{
		{version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2"}, 1, 37},
		{version.Info{Major: "1", Minor: "31+", GitVersion: "v1.31.4-gke.100"}, 1, 31},
		{version.Info{GitVersion: "v1.30.0-eks-1"}, 1, 30},
		{version.Info{GitVersion: "unknown"}, 0, 0},
	}
	for _, tc := range tests {
		if major, minor := kubeMajorMinor(&tc.info); major != tc.major || minor != tc.minor {
			t.Errorf("%+v: %d.%d, want %d.%d", tc.info, major, minor, tc.major, tc.minor)
		}
	}
}

// rolloutPending follows kubectl's DeploymentStatusViewer; the cluster test
// covers a finished rollout and an exceeded deadline, these the states in
// between.
func TestKubernetesRolloutPending(t *testing.T) {
	three := int32(3)
	dep := func(gen, observed int64, replicas, updated, available int32) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		d.Generation, d.Status.ObservedGeneration = gen, observed
		d.Spec.Replicas = &three
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = replicas, updated, available
		return d
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want string
	}{
		{"done", dep(2, 2, 3, 3, 3), ""},
		{"spec not observed", dep(3, 2, 3, 3, 3), "waiting for deployment spec update to be observed"},
		{"updating", dep(2, 2, 4, 1, 3), "1 out of 3 new replicas have been updated"},
		{"old pending", dep(2, 2, 4, 3, 3), "1 old replicas are pending termination"},
		{"not available", dep(2, 2, 3, 3, 2), "2 of 3 updated replicas are available"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rolloutPending(tc.d); got != tc.want {
				t.Errorf("rolloutPending = %q, want %q", got, tc.want)
			}
		})
	}
}
