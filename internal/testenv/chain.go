package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Versions of the chain node binaries scripts/build-chain.sh builds into
// CacheDir()/chain/<name>-<version>/.
const (
	CometBFTVersion = "v1.0.1"
	GethVersion     = "v1.17.10"

	chainInstall = "run scripts/build-chain.sh"
)

// chainBinary returns the path of a chain node binary: the cached build of
// the pinned version, else one on PATH; failing under CI, skipping
// elsewhere, when there is neither.
func chainBinary(t testing.TB, name, version string) string {
	t.Helper()
	var dirs []string
	if cache, err := CacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(cache, "chain", name+"-"+version))
	}
	return Require(t, name, chainInstall, dirs...)
}

// Geth is a go-ethereum node in --dev mode: one block a second, no peers.
type Geth struct {
	URL  string // HTTP JSON-RPC endpoint, http://127.0.0.1:PORT
	Proc *Process
}

// Stop stops the node now.
func (g *Geth) Stop() { g.Proc.Stop() }

// StartGethDev starts `geth --dev --dev.period 1` on loopback with HTTP
// JSON-RPC (eth, net, web3) and waits until eth_blockNumber answers.
func StartGethDev(t testing.TB) *Geth {
	t.Helper()
	bin := chainBinary(t, "geth", GethVersion)
	dir := t.TempDir()
	port, authPort := FreePort(t), FreePort(t)
	argv := []string{bin,
		"--dev", "--dev.period", "1",
		"--datadir", filepath.Join(dir, "data"),
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(port),
		"--http.api", "eth,net,web3",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(authPort),
		"--nodiscover", "--maxpeers", "0", "--port", "0", "--ipcdisable",
		"--verbosity", "2",
	}
	p := Start(t, "geth", argv, Options{Dir: dir})
	g := &Geth{URL: "http://" + Addr(port), Proc: p}
	p.WaitReady(t, 2*time.Minute, func(ctx context.Context) error {
		var q string
		return RPC(ctx, g.URL, "eth_blockNumber", []any{}, &q)
	})
	return g
}

// CometNode is one node of a CometBFT network started by StartCometNetwork.
type CometNode struct {
	Index   int
	ID      string // node ID (hex of the node key's address)
	Home    string // --home
	RPCURL  string // http://127.0.0.1:PORT
	P2PAddr string // 127.0.0.1:PORT
	Proc    *Process
}

// Stop stops the node now.
func (n *CometNode) Stop() { n.Proc.Stop() }

// StartCometNetwork starts a CometBFT network of n validators on loopback,
// each running the built-in kvstore app, from `cometbft testnet`'s configs
// with every node's ports moved to 127.0.0.1 and its persistent peers
// pointing at the others. It returns once every node's RPC answers and
// node 0 has committed a block.
func StartCometNetwork(t testing.TB, n int) []*CometNode {
	t.Helper()
	if n < 1 || n > 16 {
		t.Fatalf("testenv: comet network of %d nodes: want 1 to 16", n)
	}
	bin := chainBinary(t, "cometbft", CometBFTVersion)
	root := t.TempDir()
	out, err := runBounded(time.Minute, bin, "testnet", "--v", strconv.Itoa(n), "--o", root)
	if err != nil {
		t.Fatalf("testenv: cometbft testnet: %v\n%s", err, out)
	}

	nodes := make([]*CometNode, n)
	for i := range nodes {
		home := filepath.Join(root, "node"+strconv.Itoa(i))
		id, err := CometNodeID(filepath.Join(home, "config", "node_key.json"))
		if err != nil {
			t.Fatalf("testenv: comet node %d: %v", i, err)
		}
		nodes[i] = &CometNode{
			Index:   i,
			ID:      id,
			Home:    home,
			RPCURL:  "http://" + Addr(FreePort(t)),
			P2PAddr: Addr(FreePort(t)),
		}
	}
	for i, node := range nodes {
		var peers []string
		for j, o := range nodes {
			if j != i {
				peers = append(peers, o.ID+"@"+o.P2PAddr)
			}
		}
		path := filepath.Join(node.Home, "config", "config.toml")
		cfg, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		s, err := SetTOML(string(cfg), cometSettings(node, peers))
		if err != nil {
			t.Fatalf("testenv: comet node %d: %s: %v", i, path, err)
		}
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}

	for _, node := range nodes {
		node.Proc = Start(t, "cometbft node"+strconv.Itoa(node.Index),
			[]string{bin, "start", "--home", node.Home, "--proxy_app=kvstore"},
			Options{Dir: node.Home})
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, node := range nodes {
				t.Logf("testenv: cometbft node%d log (tail):\n%s", node.Index, tail(node.Proc.Log(), 4000))
			}
		}
	})
	for _, node := range nodes {
		node.Proc.WaitReady(t, 2*time.Minute, func(ctx context.Context) error {
			_, err := CometHeight(ctx, node.RPCURL)
			return err
		})
	}
	nodes[0].Proc.WaitReady(t, 2*time.Minute, func(ctx context.Context) error {
		h, err := CometHeight(ctx, nodes[0].RPCURL)
		if err == nil && h < 1 {
			err = errors.New("no block committed yet")
		}
		return err
	})
	return nodes
}

// cometSettings are the config.toml changes that put a node of a
// `cometbft testnet` network on loopback.
func cometSettings(node *CometNode, peers []string) []TOMLSetting {
	return []TOMLSetting{
		{"", "moniker", strconv.Quote("node" + strconv.Itoa(node.Index))},
		{"", "log_level", `"info"`},
		{"rpc", "laddr", strconv.Quote("tcp://" + strings.TrimPrefix(node.RPCURL, "http://"))},
		{"p2p", "laddr", strconv.Quote("tcp://" + node.P2PAddr)},
		{"p2p", "external_address", `""`},
		{"p2p", "persistent_peers", strconv.Quote(strings.Join(peers, ","))},
		{"p2p", "pex", "false"},
		{"p2p", "addr_book_strict", "false"},
		{"p2p", "allow_duplicate_ip", "true"},
		{"instrumentation", "prometheus", "false"},
	}
}

// CometHeight returns a CometBFT node's latest block height from `status`.
func CometHeight(ctx context.Context, rpcURL string) (int64, error) {
	var st struct {
		SyncInfo struct {
			LatestBlockHeight string `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	if err := RPC(ctx, rpcURL, "status", map[string]any{}, &st); err != nil {
		return 0, err
	}
	return strconv.ParseInt(st.SyncInfo.LatestBlockHeight, 10, 64)
}

// RPC makes one JSON-RPC 2.0 call over HTTP: a small client for readiness
// checks and test assertions, independent of the probe under test.
func RPC(ctx context.Context, url, method string, params, result any) error {
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	var r struct {
		Result json.RawMessage  `json:"result"`
		Error  *json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", method, resp.StatusCode, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: rpc error %s", method, *r.Error)
	}
	return json.Unmarshal(r.Result, result)
}

// CometNodeID derives a node's ID from its node_key.json: the hex of the
// first 20 bytes of SHA-256 of its ed25519 public key.
func CometNodeID(nodeKeyFile string) (string, error) {
	data, err := os.ReadFile(nodeKeyFile)
	if err != nil {
		return "", err
	}
	var k struct {
		PrivKey struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"priv_key"`
	}
	if err := json.Unmarshal(data, &k); err != nil {
		return "", fmt.Errorf("%s: %w", nodeKeyFile, err)
	}
	if !strings.Contains(strings.ToLower(k.PrivKey.Type), "ed25519") {
		return "", fmt.Errorf("%s: key type %q, want ed25519", nodeKeyFile, k.PrivKey.Type)
	}
	priv, err := base64.StdEncoding.DecodeString(k.PrivKey.Value)
	if err != nil || len(priv) != 64 {
		return "", fmt.Errorf("%s: not a 64-byte ed25519 private key", nodeKeyFile)
	}
	sum := sha256.Sum256(priv[32:])
	return hex.EncodeToString(sum[:20]), nil
}

// TOMLSetting sets Key in [Section] ("" for the top level) to Value, a TOML
// literal written as is.
type TOMLSetting struct {
	Section, Key, Value string
}

var (
	tomlSection = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$`)
	tomlKey     = regexp.MustCompile(`^\s*([A-Za-z0-9_\-]+)\s*=`)
)

// SetTOML rewrites the lines of keys that already exist in a flat TOML file
// (one key = value a line, as CometBFT writes config.toml); a setting whose
// key is not there is an error.
func SetTOML(content string, settings []TOMLSetting) (string, error) {
	lines := strings.Split(content, "\n")
	done := make([]bool, len(settings))
	section := ""
	for i, line := range lines {
		if m := tomlSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		m := tomlKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for j, s := range settings {
			if s.Section == section && s.Key == m[1] {
				lines[i] = s.Key + " = " + s.Value
				done[j] = true
			}
		}
	}
	var missing []string
	for j, s := range settings {
		if !done[j] {
			missing = append(missing, "["+s.Section+"] "+s.Key)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("keys not found: %s", strings.Join(missing, ", "))
	}
	return strings.Join(lines, "\n"), nil
}

// runBounded runs a short command to completion, killed after limit.
func runBounded(limit time.Duration, argv ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
