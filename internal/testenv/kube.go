package testenv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeVersion is the Kubernetes release scripts/build-k8s.sh builds; the
// binaries live in CacheDir()/kubernetes-<KubeVersion>/bin.
const KubeVersion = "v1.37.2"

// KubeContext is the context name in the kubeconfig StartKube writes.
const KubeContext = "prf-test"

// KwokAnnotation marks the nodes kwok manages (AddNode with ready true):
// kwok makes them Ready and the pods bound to them Running and Ready.
const KwokAnnotation = "kwok.x-k8s.io/node"

// kubeBins are the binaries StartKube runs, all from the cache directory.
var kubeBins = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// kubeControllers are the kube-controller-manager controllers the tests
// need. The node lifecycle controller is left out on purpose: kwok sends no
// heartbeats, and a node's Ready condition stays what the test set.
var kubeControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"serviceaccount-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"resourcequota-controller",
	"disruption-controller",
	"root-ca-certificate-publisher-controller",
}

//go:embed testdata/kube-stages.yaml
var kwokStages []byte

// Kube is a real Kubernetes control plane on loopback: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake
// nodes that turn scheduled pods Running and Ready). It has one Ready node,
// "kwok-node-0", when StartKube returns.
type Kube struct {
	Kubeconfig string // admin kubeconfig file (client cert in O=system:masters); its context is KubeContext
	Server     string // https://127.0.0.1:PORT
	CAFile     string // the cluster CA, PEM
	Config     *rest.Config
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Dir        string // the control plane's files

	procs  []*Process
	pki    *kubePKI
	serial struct {
		sync.Mutex
		n int64
	}
}

// shared is the control plane of a test binary whose TestMain runs
// KubeMain: started by the first StartKube, stopped when KubeMain returns.
var shared struct {
	mu      sync.Mutex
	enabled bool
	started bool
	done    chan struct{}
	kube    *Kube
	err     string // why it failed to start
	life    *lifetime
}

// KubeMain runs the tests of a package that shares one control plane among
// its tests (startup takes ~15 s): call it from TestMain,
//
//	func TestMain(m *testing.M) { os.Exit(testenv.KubeMain(m)) }
//
// Without it, every StartKube starts its own control plane.
func KubeMain(m *testing.M) int {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	life := shared.life
	shared.mu.Unlock()
	if life != nil {
		life.runCleanups()
	}
	return code
}

// KubeBinDir is where scripts/build-k8s.sh puts the binaries.
func KubeBinDir() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "kubernetes-"+KubeVersion, "bin"), nil
}

// StartKube returns a running control plane: the package's shared one when
// TestMain runs KubeMain, else one of the test's own. When the binaries are
// missing the test fails under CI and skips elsewhere.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	bins := requireKubeBins(t)
	shared.mu.Lock()
	if !shared.enabled {
		shared.mu.Unlock()
		return startKube(t, bins)
	}
	if !shared.started {
		shared.started = true
		shared.done = make(chan struct{})
		shared.life = &lifetime{name: "kube"}
		go func() {
			// startKube stops this goroutine with runtime.Goexit when it
			// fails (lifetime.Fatalf); the deferred close reports it.
			defer close(shared.done)
			k := startKube(shared.life, bins)
			shared.mu.Lock()
			shared.kube = k
			shared.mu.Unlock()
		}()
	}
	done := shared.done
	shared.mu.Unlock()
	<-done
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.kube == nil {
		t.Fatalf("testenv: shared control plane did not start: %s", shared.life.failure())
	}
	return shared.kube
}

func requireKubeBins(t testing.TB) map[string]string {
	t.Helper()
	dir, err := KubeBinDir()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(kubeBins))
	for _, b := range kubeBins {
		p := filepath.Join(dir, b)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			msg := fmt.Sprintf("testenv: %s not found in %s (build it: scripts/build-k8s.sh, 25+ minutes cold)", b, dir)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		out[b] = p
	}
	return out
}

func startKube(t testing.TB, bins map[string]string) *Kube {
	t.Helper()
	begin := time.Now()
	dir := t.TempDir()
	k := &Kube{Dir: dir}
	pki, err := writeKubePKI(dir)
	if err != nil {
		t.Fatalf("testenv: kube certificates: %v", err)
	}
	k.CAFile = pki.caFile
	k.pki = pki

	// etcd keeps its data on tmpfs when there is one: Debian's etcd 3.4
	// has no --unsafe-no-fsync, and fsync on a busy disk slows every write.
	etcdDir := kubeEtcdDir(t, dir)
	etcdClient, etcdPeer := FreePort(t), FreePort(t)
	etcdArgs := []string{bins["etcd"],
		"--name=prf",
		"--data-dir=" + etcdDir,
		"--listen-client-urls=http://" + Addr(etcdClient),
		"--advertise-client-urls=http://" + Addr(etcdClient),
		"--listen-peer-urls=http://" + Addr(etcdPeer),
		"--initial-advertise-peer-urls=http://" + Addr(etcdPeer),
		"--initial-cluster=prf=http://" + Addr(etcdPeer),
		"--logger=zap", "--log-level=warn",
	}
	if etcdHasFlag(bins["etcd"], "--unsafe-no-fsync") {
		etcdArgs = append(etcdArgs, "--unsafe-no-fsync")
	}
	etcd := Start(t, "etcd", etcdArgs, Options{Dir: dir})
	etcd.WaitReady(t, 30*time.Second, httpReady(http.DefaultClient, "http://"+Addr(etcdClient)+"/health"))
	k.procs = append(k.procs, etcd)

	apiPort := FreePort(t)
	k.Server = "https://" + Addr(apiPort)
	api := Start(t, "kube-apiserver", []string{bins["kube-apiserver"],
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--etcd-servers=http://" + Addr(etcdClient),
		"--tls-cert-file=" + pki.serverCert,
		"--tls-private-key-file=" + pki.serverKey,
		"--client-ca-file=" + pki.caFile,
		// The front-proxy settings fill kube-system/extension-apiserver-
		// authentication, which the controller manager and the scheduler
		// read (and complain about every second when it lacks them).
		"--requestheader-client-ca-file=" + pki.caFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=0",
	}, Options{Dir: dir, Grace: 3 * time.Second})
	k.procs = append(k.procs, api)
	adminTLS, err := tls.LoadX509KeyPair(pki.adminCert, pki.adminKey)
	if err != nil {
		t.Fatalf("testenv: admin certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.ca)
	adminHTTP := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{adminTLS}, MinVersion: tls.VersionTLS12,
	}}}
	api.WaitReady(t, 120*time.Second, httpReady(adminHTTP, k.Server+"/readyz"))

	k.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(k.Kubeconfig, k.Server, pki); err != nil {
		t.Fatalf("testenv: kubeconfig: %v", err)
	}
	k.Config, err = clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatalf("testenv: kubeconfig: %v", err)
	}
	k.Config.QPS, k.Config.Burst = 100, 200
	k.Config.WarningHandler = rest.NoWarnings{}
	if k.Client, err = kubernetes.NewForConfig(k.Config); err != nil {
		t.Fatalf("testenv: client: %v", err)
	}
	if k.Dynamic, err = dynamic.NewForConfig(k.Config); err != nil {
		t.Fatalf("testenv: dynamic client: %v", err)
	}

	kcm := Start(t, "kube-controller-manager", []string{bins["kube-controller-manager"],
		"--kubeconfig=" + k.Kubeconfig,
		"--authentication-kubeconfig=" + k.Kubeconfig,
		"--authorization-kubeconfig=" + k.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(FreePort(t)),
		"--leader-elect=false",
		// Without it every controller acts as the manager's own user and
		// RBAC forbids the ReplicaSet controller to create pods.
		"--use-service-account-credentials=true",
		"--controllers=" + strings.Join(kubeControllers, ","),
		"--root-ca-file=" + pki.caFile,
		"--service-account-private-key-file=" + pki.saKey,
		"--concurrent-gc-syncs=2",
		"--profiling=false",
	}, Options{Dir: dir, Grace: 3 * time.Second})
	k.procs = append(k.procs, kcm)
	sched := Start(t, "kube-scheduler", []string{bins["kube-scheduler"],
		"--kubeconfig=" + k.Kubeconfig,
		"--authentication-kubeconfig=" + k.Kubeconfig,
		"--authorization-kubeconfig=" + k.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(FreePort(t)),
		"--leader-elect=false",
		"--profiling=false",
	}, Options{Dir: dir, Grace: 3 * time.Second})
	k.procs = append(k.procs, sched)
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	kwok := Start(t, "kwok", []string{bins["kwok"],
		"--config=" + stages,
		"--kubeconfig=" + k.Kubeconfig,
		"--manage-nodes-with-annotation-selector=" + KwokAnnotation + "=fake",
		"--cidr=10.244.0.0/16",
		"--node-ip=10.0.0.1",
	}, Options{Dir: dir, Env: []string{"HOME=" + dir}, Grace: 3 * time.Second})
	k.procs = append(k.procs, kwok)

	// kwok works when a node it manages turns Ready; the controller manager
	// when the default namespace has its service account (pods need it).
	k.createNode(t, "kwok-node-0", true)
	kwok.WaitReady(t, 60*time.Second, func(ctx context.Context) error {
		if err := k.nodeReady(ctx, "kwok-node-0"); err != nil {
			return err
		}
		return k.untaint(ctx, "kwok-node-0")
	})
	kcm.WaitReady(t, 60*time.Second, func(ctx context.Context) error {
		_, err := k.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	t.Logf("testenv: kubernetes %s control plane at %s ready in %s", KubeVersion, k.Server, time.Since(begin).Round(100*time.Millisecond))
	return k
}

// Logs returns what every process of the control plane printed so far,
// for a failing test to show.
func (k *Kube) Logs() string {
	var b strings.Builder
	for _, p := range k.procs {
		fmt.Fprintf(&b, "==== %s ====\n%s\n", p.Name, p.Log())
	}
	return b.String()
}

// Describe summarises the deployments, replica sets and pods of a
// namespace and the cluster's nodes, for a failing test to print.
func (k *Kube) Describe(ns string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	if l, err := k.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range l.Items {
			fmt.Fprintf(&b, "node %s: taints %v conditions", n.Name, n.Spec.Taints)
			for _, c := range n.Status.Conditions {
				fmt.Fprintf(&b, " %s=%s", c.Type, c.Status)
			}
			b.WriteString("\n")
		}
	}
	if l, err := k.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, d := range l.Items {
			st, _ := json.Marshal(d.Status)
			fmt.Fprintf(&b, "deployment %s (generation %d): %s\n", d.Name, d.Generation, st)
		}
	}
	if l, err := k.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, r := range l.Items {
			st, _ := json.Marshal(r.Status)
			fmt.Fprintf(&b, "replicaset %s: %s\n", r.Name, st)
		}
	}
	if l, err := k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range l.Items {
			st, _ := json.Marshal(p.Status)
			fmt.Fprintf(&b, "pod %s on %q: %s\n", p.Name, p.Spec.NodeName, st)
		}
	}
	if l, err := k.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range l.Items {
			fmt.Fprintf(&b, "event %s/%s: %s %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return b.String()
}

// UserKubeconfig writes a kubeconfig (context KubeContext) for a user of
// the given name and groups, authenticated by a client certificate from the
// cluster's CA. The user may do nothing RBAC does not grant, which makes it
// the identity for a test of restricted access.
func (k *Kube) UserKubeconfig(t testing.TB, user string, groups ...string) string {
	t.Helper()
	k.serial.Lock()
	k.serial.n++
	serial := 100 + k.serial.n
	k.serial.Unlock()
	certPEM, keyPEM, err := k.pki.issue(serial, pkix.Name{CommonName: user, Organization: groups}, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		t.Fatalf("testenv: certificate for %s: %v", user, err)
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := writeKubeconfigFor(path, k.Server, k.pki.caPEM, certPEM, keyPEM); err != nil {
		t.Fatalf("testenv: kubeconfig for %s: %v", user, err)
	}
	return path
}

// AddNode creates a node. A ready node is managed by kwok, which makes it
// Ready and runs the pods scheduled to it; AddNode then removes its
// not-ready taint. A node that is not ready is left
// alone by kwok: its status says Ready=False (KubeletNotReady) with
// MemoryPressure=True, and it carries the node.kubernetes.io/not-ready
// NoSchedule taint, as the node lifecycle controller would add, so the
// scheduler keeps pods off it. AddNode waits for a ready node to turn Ready.
// The node is deleted when the test ends.
func (k *Kube) AddNode(t testing.TB, name string, ready bool) *corev1.Node {
	t.Helper()
	n := k.createNode(t, name, ready)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = k.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	})
	if ready {
		k.Wait(t, 60*time.Second, "node "+name+" Ready", func(ctx context.Context) (bool, error) {
			if err := k.nodeReady(ctx, name); err != nil {
				return false, err
			}
			return true, k.untaint(ctx, name)
		})
		var err error
		if n, err = k.Client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			t.Fatalf("testenv: get node %s: %v", name, err)
		}
	}
	return n
}

func (k *Kube) createNode(t testing.TB, name string, ready bool) *corev1.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
	}}
	if ready {
		node.Annotations = map[string]string{KwokAnnotation: "fake"}
	} else {
		node.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}}
	}
	n, err := k.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testenv: create node %s: %v", name, err)
	}
	if ready {
		return n
	}
	now := metav1.Now()
	cond := func(typ corev1.NodeConditionType, status corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	n.Status.Conditions = []corev1.NodeCondition{
		cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready"),
		cond(corev1.NodeMemoryPressure, corev1.ConditionTrue, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
	}
	if n, err = k.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("testenv: set status of node %s: %v", name, err)
	}
	return n
}

// untaint removes the taints of a node that kwok made Ready: the
// node.kubernetes.io/not-ready taint that the TaintNodesByCondition
// admission plugin puts on every new node, and that the node lifecycle
// controller (not run here) would remove.
func (k *Kube) untaint(ctx context.Context, name string) error {
	_, err := k.Client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{})
	return err
}

func (k *Kube) nodeReady(ctx context.Context, name string) error {
	n, err := k.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s: Ready=%s", name, c.Status)
		}
	}
	return fmt.Errorf("node %s: no Ready condition yet", name)
}

// ApplyNamespace creates the namespace (labels optional) unless it exists
// (waiting out one still being deleted), waits for its default service
// account (pods cannot be created before
// it), and deletes the namespace when the test ends.
func (k *Kube) ApplyNamespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	// A namespace of the same name still being deleted (an earlier run of
	// the test, -count=2) is waited out.
	k.Wait(t, 60*time.Second, "namespace "+name+" created", func(ctx context.Context) (bool, error) {
		_, err := k.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err == nil {
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, err
		}
		old, err := k.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return old.Status.Phase != corev1.NamespaceTerminating, nil
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = k.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		// Pods on a node kwok does not manage have no kubelet to finish
		// their graceful deletion, and would keep the namespace
		// Terminating: delete them at once.
		zero := int64(0)
		_ = k.Client.CoreV1().Pods(name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	})
	k.Wait(t, 60*time.Second, "service account "+name+"/default", func(ctx context.Context) (bool, error) {
		_, err := k.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// ApplyYAML server-side applies every object of a multi-document YAML (or
// JSON) manifest, as `kubectl apply --server-side` would; objects without a
// namespace go to namespace ns when their kind is namespaced. It returns
// the applied objects.
func (k *Kube) ApplyYAML(t testing.TB, ns, manifest string) []*unstructured.Unstructured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := restmapper.GetAPIGroupResources(k.Client.Discovery())
	if err != nil {
		t.Fatalf("testenv: discovery: %v", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("testenv: manifest: %v", err)
		}
		if len(raw) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: raw}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("testenv: %s %s: %v", gvk, obj.GetName(), err)
		}
		var ri dynamic.ResourceInterface = k.Dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(ns)
			}
			ri = k.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		data, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		force := true
		got, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "prf-test", Force: &force})
		if err != nil {
			t.Fatalf("testenv: apply %s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		out = append(out, got)
	}
	return out
}

// DeploymentYAML is the manifest of a Deployment name of replicas pods
// labelled app=name, each one container "app" running image, for
// ApplyYAML (kwok runs its pods).
func DeploymentYAML(name string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[3]s
`, name, replicas, image)
}

// WaitRolledOut waits up to a minute until deployment ns/name has rolled
// out: its controller has seen the current generation, and replicas pods
// are updated and available.
func (k *Kube) WaitRolledOut(t testing.TB, ns, name string, replicas int32) {
	t.Helper()
	k.Wait(t, 60*time.Second, "deployment "+ns+"/"+name+" rolled out", func(ctx context.Context) (bool, error) {
		d, err := k.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == replicas && d.Status.AvailableReplicas == replicas, nil
	})
}

// Wait polls cond every 200ms until it returns true, and fails the test
// with the last error (and what) after timeout.
func (k *Kube) Wait(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := cond(cctx)
		ccancel()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: waited %s for %s (last error: %v)", timeout, what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// httpReady is a ready func that succeeds once url answers 200.
func httpReady(c *http.Client, url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
		}
		return nil
	}
}

// kubeEtcdDir is etcd's data directory: on /dev/shm when it is writable
// (removed when the test ends), else in dir.
func kubeEtcdDir(t testing.TB, dir string) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "prf-etcd-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return filepath.Join(d, "data")
		}
	}
	return filepath.Join(dir, "etcd-data")
}

// etcdHasFlag reports whether etcd --help mentions flag.
func etcdHasFlag(bin, flag string) bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	return strings.Contains(string(out), flag)
}

// kubePKI is the throwaway certificates and keys of one control plane.
type kubePKI struct {
	ca                               *x509.Certificate
	caKey                            crypto.Signer
	caFile                           string
	serverCert, serverKey            string
	adminCert, adminKey              string
	saKey, saPub                     string
	caPEM, adminCertPEM, adminKeyPEM []byte
}

func writeKubePKI(dir string) (*kubePKI, error) {
	p := &kubePKI{
		caFile:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		adminCert:  filepath.Join(dir, "admin.crt"),
		adminKey:   filepath.Join(dir, "admin.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p.caKey = caKey
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "prf-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if p.ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(p.caFile, p.caPEM, 0o600); err != nil {
		return nil, err
	}
	write := func(certFile, keyFile string, certPEM, keyPEM []byte) error {
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			return err
		}
		return os.WriteFile(keyFile, keyPEM, 0o600)
	}
	certPEM, keyPEM, err := p.issue(2, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 96, 0, 1)})
	if err != nil {
		return nil, err
	}
	if err := write(p.serverCert, p.serverKey, certPEM, keyPEM); err != nil {
		return nil, err
	}
	if p.adminCertPEM, p.adminKeyPEM, err = p.issue(3, pkix.Name{CommonName: "prf-admin", Organization: []string{"system:masters"}},
		x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	if err := write(p.adminCert, p.adminKey, p.adminCertPEM, p.adminKeyPEM); err != nil {
		return nil, err
	}
	// The service-account token signing key: RSA, which every component
	// accepts.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return p, writeKeyPair(p.saKey, p.saPub, saKey)
}

// issue signs a certificate for a new ECDSA key with the CA.
func (p *kubePKI) issue(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func writeKeyPair(keyFile, pubFile string, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600)
}

func writeKubeconfig(path, server string, p *kubePKI) error {
	return writeKubeconfigFor(path, server, p.caPEM, p.adminCertPEM, p.adminKeyPEM)
}

func writeKubeconfigFor(path, server string, caPEM, certPEM, keyPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeContext] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[KubeContext] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[KubeContext] = &clientcmdapi.Context{Cluster: KubeContext, AuthInfo: KubeContext}
	cfg.CurrentContext = KubeContext
	return clientcmd.WriteToFile(*cfg, path)
}

// lifetime is the testing.TB of the shared control plane: it lives from
// the first StartKube to the end of KubeMain. Fatal stops the starting
// goroutine and keeps the message for the tests that wait on it.
type lifetime struct {
	testing.TB // nil: calling a method not overridden here panics

	name     string
	mu       sync.Mutex
	cleanups []func()
	failed   string
}

func (l *lifetime) Helper()      {}
func (l *lifetime) Name() string { return l.name }

func (l *lifetime) Cleanup(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, f)
}

func (l *lifetime) runCleanups() {
	l.mu.Lock()
	fs := l.cleanups
	l.cleanups = nil
	l.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func (l *lifetime) TempDir() string {
	d, err := os.MkdirTemp("", "prf-"+l.name+"-")
	if err != nil {
		l.Fatalf("testenv: temp dir: %v", err)
	}
	l.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (l *lifetime) Log(args ...any) { fmt.Fprintln(os.Stderr, args...) }
func (l *lifetime) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
func (l *lifetime) Fatal(args ...any) { l.fail(fmt.Sprint(args...)) }
func (l *lifetime) Fatalf(format string, args ...any) {
	l.fail(fmt.Sprintf(format, args...))
}
func (l *lifetime) Skip(args ...any) { l.fail("skipped: " + fmt.Sprint(args...)) }
func (l *lifetime) Skipf(format string, args ...any) {
	l.fail("skipped: " + fmt.Sprintf(format, args...))
}
func (l *lifetime) Failed() bool { return l.failure() != "" }

func (l *lifetime) fail(msg string) {
	l.mu.Lock()
	if l.failed == "" {
		l.failed = msg
	}
	l.mu.Unlock()
	runtime.Goexit()
}

func (l *lifetime) failure() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}
