package testenv

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The package's tests share one Kubernetes control plane.
func TestMain(m *testing.M) { os.Exit(KubeMain(m)) }

func TestKubeMissingBinariesSkip(t *testing.T) {
	t.Setenv("PRF_TEST_CACHE", t.TempDir())
	t.Setenv("CI", "")
	var skipped bool
	var msg string
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		requireKubeBins(t)
		msg = "not skipped"
	})
	if !skipped || msg != "" {
		t.Errorf("missing binaries: skipped %v (%s)", skipped, msg)
	}
}

func TestKubeControlPlane(t *testing.T) {
	k := StartKube(t)
	if again := StartKube(t); again != k {
		t.Errorf("StartKube did not share the control plane")
	}
	ctx := context.Background()

	// The kubeconfig file works on its own, with its context.
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: k.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: KubeContext}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v\n%s", err, k.Logs())
	}
	if v.GitVersion != KubeVersion {
		t.Errorf("server version %s, want %s", v.GitVersion, KubeVersion)
	}
	if n, err := cs.CoreV1().Nodes().Get(ctx, "kwok-node-0", metav1.GetOptions{}); err != nil || !nodeIsReady(n) {
		t.Errorf("kwok-node-0: %v, ready %v", err, n != nil && nodeIsReady(n))
	}

	t.Run("nodes", func(t *testing.T) {
		ready := k.AddNode(t, "testenv-ready", true)
		if !nodeIsReady(ready) {
			t.Errorf("ready node: conditions %v", ready.Status.Conditions)
		}
		down := k.AddNode(t, "testenv-down", false)
		if nodeIsReady(down) || !slices.ContainsFunc(down.Spec.Taints, func(t corev1.Taint) bool { return t.Key == "node.kubernetes.io/not-ready" }) {
			t.Errorf("not-ready node: conditions %v, taints %v", down.Status.Conditions, down.Spec.Taints)
		}
		// kwok leaves it alone: still NotReady a moment later.
		time.Sleep(2 * time.Second)
		if n, err := k.Client.CoreV1().Nodes().Get(ctx, "testenv-down", metav1.GetOptions{}); err != nil || nodeIsReady(n) {
			t.Errorf("not-ready node turned ready (%v)", err)
		}
	})

	t.Run("rollout", func(t *testing.T) {
		const ns = "testenv-rollout"
		k.ApplyNamespace(t, ns, map[string]string{"team": "prf"})
		objs := k.ApplyYAML(t, ns, DeploymentYAML("web", 3, "registry.example/web:1.0")+`
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: test
`)
		if len(objs) != 2 || objs[0].GetNamespace() != ns || objs[1].GetKind() != "ConfigMap" {
			t.Fatalf("applied %d objects", len(objs))
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("state of %s:\n%s\ncontrol plane logs:\n%s", ns, k.Describe(ns), k.Logs())
			}
		})
		k.WaitRolledOut(t, ns, "web", 3)
		pods, err := k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(pods.Items) != 3 {
			t.Fatalf("pods: %v (%d)", err, len(pods.Items))
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" || strings.HasPrefix(p.Spec.NodeName, "testenv-down") {
				t.Errorf("pod %s: phase %s on node %q", p.Name, p.Status.Phase, p.Spec.NodeName)
			}
		}
		// A deleted pod goes away (kwok's pod-delete stage) and is replaced.
		victim := pods.Items[0].Name
		if err := k.Client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		k.Wait(t, 60*time.Second, "pod "+victim+" replaced", func(ctx context.Context) (bool, error) {
			pods, err := k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return false, err
			}
			running := 0
			for _, p := range pods.Items {
				if p.Name == victim {
					return false, nil
				}
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			return running == 3, nil
		})
	})
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
