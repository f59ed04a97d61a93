package catalog

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/testenv"
)

// The platform checkpoints: the Kubernetes cluster (a real control plane:
// etcd, kube-apiserver, controller-manager, scheduler, kwok nodes), the
// blockchain (a real 4-validator CometBFT network), the GPUs (a stand-in
// nvidia-smi: there is no GPU here) and the release image scan (a stand-in
// trivy: the real scanner needs its vulnerability database from the
// network).

var kubeIDs = []string{
	"infra.compute.cluster-operational",
	"infra.compute.nodes-healthy",
	"infra.compute.resource-quotas",
	"infra.compute.nodes-no-pressure",
	"infra.compute.kubernetes-supported",
	"sec.access.cluster-admin-bootstrap-only",
	"sec.access.service-accounts",
	"sec.network.network-policies",
	"final.infra.systems-operational",
}

// platformManifest is the system's namespace in good order: a quota, an
// ingress default deny, and a deployment kwok runs.
var platformManifest = `
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {pods: "20"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
` + testenv.DeploymentYAML("web", 2, "registry.example/web:1.0")

func TestE2EPlatformKubernetes(t *testing.T) {
	t.Parallel()
	k := testenv.StartKube(t)
	ctx := context.Background()
	const ns = "prf-e2e-platform"
	k.ApplyNamespace(t, ns, nil)
	k.ApplyYAML(t, ns, platformManifest)
	// network-policies looks at every namespace but the system ones:
	// "default" needs its own default deny (removed when the test ends).
	const defaultDeny = "prf-e2e-default-deny"
	k.ApplyYAML(t, "default", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: `+defaultDeny+`}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`)
	t.Cleanup(func() {
		_ = k.Client.NetworkingV1().NetworkPolicies("default").Delete(context.Background(), defaultDeny, metav1.DeleteOptions{})
	})
	k.WaitRolledOut(t, ns, "web", 2)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster:\n%s", k.Describe(ns))
		}
	})

	healthy := system{Vars: map[string]string{"kubeconfig": k.Kubeconfig, "kube_namespace": ns}}
	t.Run("healthy", func(t *testing.T) {
		expectAll(t, runCatalog(t, healthy, kubeIDs...), store.StatusPass, kubeIDs...)
	})

	t.Run("API server unreachable", func(t *testing.T) {
		// The kubeconfig of a cluster whose API server is down: nothing
		// listens on its port.
		cfg, err := clientcmd.LoadFromFile(k.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cfg.Clusters {
			c.Server = "https://" + testenv.Addr(testenv.FreePort(t))
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
		sys := healthy.clone()
		sys.Vars["kubeconfig"] = path
		res := runCatalog(t, sys, "infra.compute.cluster-operational", "infra.compute.nodes-healthy")
		expectStatus(t, res, map[string]store.Status{
			"infra.compute.cluster-operational": store.StatusError,
			"infra.compute.nodes-healthy":       store.StatusSkipped,
		})
	})

	t.Run("control plane past its support window", func(t *testing.T) {
		// The cluster runs 1.37; a provider whose oldest supported minor
		// is 38 makes it end-of-support.
		sys := healthy.clone()
		sys.Vars["kube_min_minor"] = "38"
		res := runCatalog(t, sys, "infra.compute.kubernetes-supported")
		expectAll(t, res, store.StatusWarn, "infra.compute.kubernetes-supported")
	})

	t.Run("node not ready under memory pressure", func(t *testing.T) {
		k.AddNode(t, "prf-e2e-notready", false)
		res := runCatalog(t, healthy, "infra.compute.nodes-healthy", "infra.compute.nodes-no-pressure", "final.infra.systems-operational")
		expectStatus(t, res, map[string]store.Status{
			"infra.compute.nodes-healthy":     store.StatusFail,
			"infra.compute.nodes-no-pressure": store.StatusWarn,
			"final.infra.systems-operational": store.StatusFail,
		})
	})

	t.Run("cordoned node", func(t *testing.T) {
		// Ready, but taking no pods: only the pressure/cordon check sees it.
		const name = "prf-e2e-cordoned"
		k.AddNode(t, name, true)
		patch := []byte(`{"spec":{"unschedulable":true}}`)
		if _, err := k.Client.CoreV1().Nodes().Patch(ctx, name, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		res := runCatalog(t, healthy, "infra.compute.nodes-healthy", "infra.compute.nodes-no-pressure")
		expectStatus(t, res, map[string]store.Status{
			"infra.compute.nodes-healthy":     store.StatusPass,
			"infra.compute.nodes-no-pressure": store.StatusWarn,
		})
	})

	t.Run("namespace without quota or default deny", func(t *testing.T) {
		const bare = "prf-e2e-platform-bare"
		k.ApplyNamespace(t, bare, nil)
		sys := healthy.clone()
		sys.Vars["kube_namespace"] = bare
		res := runCatalog(t, sys, "infra.compute.resource-quotas", "sec.network.network-policies")
		expectAll(t, res, store.StatusFail, "infra.compute.resource-quotas", "sec.network.network-policies")
	})

	bindAdmin := func(t *testing.T, name string, subject rbacv1.Subject) {
		t.Helper()
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{subject},
		}
		if _, err := k.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			err := k.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete clusterrolebinding %s: %v", name, err)
			}
		})
	}
	rbacIDs := []string{"sec.access.cluster-admin-bootstrap-only", "sec.access.service-accounts"}

	t.Run("service account bound to cluster-admin", func(t *testing.T) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}
		if _, err := k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bindAdmin(t, "prf-e2e-deployer-admin", rbacv1.Subject{Kind: "ServiceAccount", Name: "deployer", Namespace: ns})
		res := runCatalog(t, healthy, rbacIDs...)
		expectAll(t, res, store.StatusFail, rbacIDs...)
	})

	t.Run("user bound to cluster-admin", func(t *testing.T) {
		bindAdmin(t, "prf-e2e-alice-admin", rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"})
		res := runCatalog(t, healthy, rbacIDs...)
		expectStatus(t, res, map[string]store.Status{
			"sec.access.cluster-admin-bootstrap-only": store.StatusFail,
			"sec.access.service-accounts":             store.StatusPass,
		})
	})

	t.Run("deployment that cannot roll out", func(t *testing.T) {
		// Its pods ask for a node that does not exist: never available.
		one := int32(1)
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "stuck"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &one,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "stuck"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "stuck"}},
					Spec: corev1.PodSpec{
						NodeSelector: map[string]string{"disktype": "nonexistent"},
						Containers:   []corev1.Container{{Name: "app", Image: "registry.example/stuck:1.0"}},
					},
				},
			},
		}
		if _, err := k.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			bg := metav1.DeletePropagationBackground
			_ = k.Client.AppsV1().Deployments(ns).Delete(context.Background(), "stuck", metav1.DeleteOptions{PropagationPolicy: &bg})
		})
		k.Wait(t, 30*time.Second, "deployment stuck observed", func(ctx context.Context) (bool, error) {
			d, err := k.Client.AppsV1().Deployments(ns).Get(ctx, "stuck", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return d.Status.ObservedGeneration == d.Generation && d.Status.UnavailableReplicas == 1, nil
		})
		res := runCatalog(t, healthy, "final.infra.systems-operational")
		expectAll(t, res, store.StatusFail, "final.infra.systems-operational")
	})
}

// chainIDs are the chain checkpoints, all read from one node's RPC.
var chainIDs = []string{
	"app.chain.validators-synced",
	"app.chain.consensus",
	"app.chain.p2p",
	"perf.targets.blockchain-tps",
}

func TestE2EPlatformChain(t *testing.T) {
	t.Parallel()
	nodes := testenv.StartCometNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := nodes[0]

	waitChain(t, "node0 connected to its 3 peers", 30*time.Second, func() (bool, error) {
		n, err := cometPeers(ctx, node.RPCURL)
		return n == 3, err
	})

	// A stress load: kvstore transactions sent to every node while the
	// healthy chain is checked, so the TPS checkpoint measures real
	// committed transactions.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	for i, n := range nodes {
		load.Add(1)
		go func() {
			defer load.Done()
			for seq := 0; loadCtx.Err() == nil; seq++ {
				tx := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "e2e-%d-%d=%d", i, seq, seq))
				var res map[string]any
				_ = testenv.RPC(loadCtx, n.RPCURL, "broadcast_tx_async", map[string]any{"tx": tx}, &res)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	defer func() { stopLoad(); load.Wait() }()
	start, err := testenv.CometHeight(ctx, node.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	waitChain(t, "3 blocks under load", 30*time.Second, func() (bool, error) {
		h, err := testenv.CometHeight(ctx, node.RPCURL)
		return h >= start+3, err
	})

	healthy := system{Vars: map[string]string{
		"chain_rpc_url":       node.RPCURL,
		"chain_rpc_flavor":    "cometbft",
		"chain_window":        "3s",
		"chain_max_block_age": "5s", // blocks come every second
		"chain_tps_blocks":    "3",
		"chain_min_tps":       "20", // this chain's sizing; the document's 3,500 below
	}}
	t.Run("healthy under load", func(t *testing.T) {
		expectAll(t, runCatalog(t, healthy, chainIDs...), store.StatusPass, chainIDs...)
	})
	t.Run("below the document's 3500 TPS", func(t *testing.T) {
		sys := healthy.clone()
		delete(sys.Vars, "chain_min_tps")
		res := runCatalog(t, sys, "perf.targets.blockchain-tps")
		expectAll(t, res, store.StatusFail, "perf.targets.blockchain-tps")
	})
	stopLoad()
	load.Wait()

	t.Run("one validator down", func(t *testing.T) {
		// node0 has lost a peer. (3 of 4 still commit blocks, but a round
		// whose proposer is the stopped node waits out timeout_propose, so
		// a short window may see none: consensus is not asserted here.)
		nodes[3].Stop()
		waitChain(t, "node0 down to 2 peers", 30*time.Second, func() (bool, error) {
			n, err := cometPeers(ctx, node.RPCURL)
			return n == 2, err
		})
		expectAll(t, runCatalog(t, healthy, "app.chain.p2p"), store.StatusFail, "app.chain.p2p")
		sys := healthy.clone()
		sys.Vars["chain_min_peers"] = "2" // a team that tolerates one peer down
		expectAll(t, runCatalog(t, sys, "app.chain.p2p"), store.StatusPass, "app.chain.p2p")
	})

	t.Run("consensus halted", func(t *testing.T) {
		// 2 of 4 down: no 2/3 majority, the height stops and the newest
		// block ages past chain_max_block_age.
		nodes[2].Stop()
		var last int64
		stable := time.Now()
		waitChain(t, "height stalled for 2s", 30*time.Second, func() (bool, error) {
			h, err := testenv.CometHeight(ctx, node.RPCURL)
			if err != nil {
				return false, err
			}
			if h != last {
				last, stable = h, time.Now()
			}
			return time.Since(stable) >= 2*time.Second, nil
		})
		time.Sleep(time.Until(stable.Add(5 * time.Second)))
		res := runCatalog(t, healthy, "app.chain.consensus", "app.chain.validators-synced")
		expectAll(t, res, store.StatusFail, "app.chain.consensus", "app.chain.validators-synced")
	})
}

// cometPeers returns a CometBFT node's peer count from net_info.
func cometPeers(ctx context.Context, url string) (int, error) {
	var ni struct {
		NPeers string `json:"n_peers"`
	}
	if err := testenv.RPC(ctx, url, "net_info", map[string]any{}, &ni); err != nil {
		return 0, err
	}
	return strconv.Atoi(ni.NPeers)
}

// waitChain polls cond every 200ms until it is true, failing the test
// after timeout.
func waitChain(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s (last error: %v)", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nvidia-smi --query-gpu=index,uuid,name,utilization.gpu,utilization.memory,
// memory.used,memory.total,temperature.gpu,power.draw,power.limit,
// ecc.errors.uncorrected.volatile.total,ecc.errors.corrected.volatile.total,
// driver_version --format=csv,noheader,nounits, as a healthy node and a
// failing one print it.
const (
	gpusHealthy = `0, GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, NVIDIA H100 80GB HBM3, 37, 12, 10240, 81559, 41, 118.45, 700.00, 0, 0, 550.54.15
1, GPU-6b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e, NVIDIA H100 80GB HBM3, 64, 40, 52224, 81559, 58, 402.10, 700.00, 0, 3, 550.54.15
`
	gpusOverheatingECC = `0, GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, NVIDIA H100 80GB HBM3, 37, 12, 10240, 81559, 41, 118.45, 700.00, 0, 0, 550.54.15
1, GPU-6b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e, NVIDIA H100 80GB HBM3, 100, 88, 52224, 81559, 91, 701.33, 700.00, 2, 17, 550.54.15
`
	gpusMemoryFull = `0, GPU-d29d0e1f-2a3b-4c5d-6e7f-8091a2b3c4d5, NVIDIA A100-SXM4-40GB, 99, 97, 40320, 40960, 63, 352.14, 400.00, 0, 0, 535.104.12
`
)

// fakeNvidiaSMI writes a stand-in nvidia-smi (there is no GPU here) that
// answers the probe's --query-gpu call with csv, and anything else with
// nvidia-smi's usage error.
func fakeNvidiaSMI(t *testing.T, csv string) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "query.csv")
	if err := os.WriteFile(data, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nvidia-smi")
	script := `#!/bin/sh
case "$1" in
--query-gpu=index,uuid,name,*) ;;
*) echo "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help." >&2; exit 2 ;;
esac
[ "$2" = --format=csv,noheader,nounits ] || { echo "unexpected $2" >&2; exit 2; }
cat '` + data + `'
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestE2EPlatformGPU(t *testing.T) {
	t.Parallel()
	const id = "app.ai.gpu-available"
	run := func(t *testing.T, csv string) map[string]store.Result {
		return runCatalog(t, system{Vars: map[string]string{"nvidia_smi": fakeNvidiaSMI(t, csv)}}, id)
	}
	t.Run("healthy", func(t *testing.T) {
		expectAll(t, run(t, gpusHealthy), store.StatusPass, id)
	})
	t.Run("overheating with uncorrected ECC errors", func(t *testing.T) {
		expectAll(t, run(t, gpusOverheatingECC), store.StatusFail, id)
	})
	t.Run("memory full", func(t *testing.T) {
		expectAll(t, run(t, gpusMemoryFull), store.StatusFail, id)
	})
	t.Run("no devices", func(t *testing.T) {
		expectAll(t, run(t, ""), store.StatusFail, id)
	})
}

// fakeTrivy writes a stand-in for `trivy image` (not installed here, and
// the real one needs its vulnerability database from the network): it
// checks the arguments the checkpoint passes and, like trivy with
// --exit-code 1, prints its table of findings and exits 1 for the images in
// vulnerable, 0 with an empty report for any other.
func fakeTrivy(t *testing.T, vulnerable string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trivy")
	script := `#!/bin/sh
for img; do :; done
[ "$*" = "image --quiet --scanners vuln --severity HIGH,CRITICAL --ignore-unfixed --exit-code 1 $img" ] || { echo "unexpected arguments: $*" >&2; exit 2; }
if [ "$img" = '` + vulnerable + `' ]; then
cat <<EOF

$img (debian 12.5)
==================
Total: 2 (HIGH: 1, CRITICAL: 1)

┌──────────┬────────────────┬──────────┬────────┬───────────────────┬────────────────┬──────────────────────────────────────┐
│ Library  │ Vulnerability  │ Severity │ Status │ Installed Version │ Fixed Version  │                Title                 │
├──────────┼────────────────┼──────────┼────────┼───────────────────┼────────────────┼──────────────────────────────────────┤
│ libssl3  │ CVE-2024-5535  │ CRITICAL │ fixed  │ 3.0.11-1~deb12u2  │ 3.0.13-1~deb12u1 │ openssl: SSL_select_next_proto buffer overread │
│ zlib1g   │ CVE-2023-45853 │ HIGH     │ fixed  │ 1:1.2.13.dfsg-1   │ 1:1.2.13.dfsg-1+deb12u1 │ zlib: integer overflow in MiniZip    │
└──────────┴────────────────┴──────────┴────────┴───────────────────┴────────────────┴──────────────────────────────────────┘
EOF
exit 1
fi
printf '\n%s (debian 12.5)\n==================\nTotal: 0 (HIGH: 0, CRITICAL: 0)\n\n' "$img"
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestE2EPlatformImageScan(t *testing.T) {
	t.Parallel()
	const id = "final.code.image-scan"
	const clean = "registry.example/shop@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const vulnerable = "registry.example/shop@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	scanner := fakeTrivy(t, vulnerable)
	run := func(t *testing.T, image string) map[string]store.Result {
		return runCatalog(t, system{Vars: map[string]string{"image_scanner": scanner, "release_image": image}}, id)
	}
	t.Run("clean image", func(t *testing.T) {
		expectAll(t, run(t, clean), store.StatusPass, id)
	})
	t.Run("image with fixable critical vulnerability", func(t *testing.T) {
		expectAll(t, run(t, vulnerable), store.StatusFail, id)
	})
}
