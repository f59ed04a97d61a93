package testenv

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChainSetTOML(t *testing.T) {
	in := `# top comment
moniker = "x"
log_level = "debug"

[rpc]
laddr = "tcp://0.0.0.0:26657"

[p2p]
# a comment = not a key
laddr = "tcp://0.0.0.0:26656"
pex = true

[p2p.extra] # sub-table
pex = "keep"
`
	got, err := SetTOML(in, []TOMLSetting{
		{"", "moniker", `"n0"`},
		{"rpc", "laddr", `"tcp://127.0.0.1:1"`},
		{"p2p", "laddr", `"tcp://127.0.0.1:2"`},
		{"p2p", "pex", "false"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# top comment
moniker = "n0"
log_level = "debug"

[rpc]
laddr = "tcp://127.0.0.1:1"

[p2p]
# a comment = not a key
laddr = "tcp://127.0.0.1:2"
pex = false

[p2p.extra] # sub-table
pex = "keep"
`
	if got != want {
		t.Errorf("SetTOML =\n%s\nwant\n%s", got, want)
	}
	_, err = SetTOML(in, []TOMLSetting{{"rpc", "pex", "false"}, {"", "nope", "1"}})
	if err == nil || err.Error() != "keys not found: [rpc] pex, [] nope" {
		t.Errorf("missing keys: err = %v", err)
	}
}

func TestChainCometNodeIDFromKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "node_key.json")
	key := `{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"` + base64.StdEncoding.EncodeToString(priv) + `"}}`
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pub)
	got, err := CometNodeID(path)
	if err != nil || got != hex.EncodeToString(sum[:20]) {
		t.Errorf("CometNodeID = %q, %v; want %x", got, err, sum[:20])
	}
	if err := os.WriteFile(path, []byte(`{"priv_key":{"type":"tendermint/PrivKeySecp256k1","value":"AA=="}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CometNodeID(path); err == nil || !strings.Contains(err.Error(), "want ed25519") {
		t.Errorf("secp256k1 key: err = %v", err)
	}
}

// TestCometTestnetConfig checks the harness against what the real binary
// writes: node IDs as `cometbft show-node-id` prints them, and every
// config.toml key the harness sets.
func TestCometTestnetConfig(t *testing.T) {
	bin := chainBinary(t, "cometbft", CometBFTVersion)
	root := t.TempDir()
	if out, err := runBounded(time.Minute, bin, "testnet", "--v", "2", "--o", root); err != nil {
		t.Fatalf("cometbft testnet: %v\n%s", err, out)
	}
	home := filepath.Join(root, "node1")
	out, err := runBounded(time.Minute, bin, "show-node-id", "--home", home)
	if err != nil {
		t.Fatalf("show-node-id: %v\n%s", err, out)
	}
	id, err := CometNodeID(filepath.Join(home, "config", "node_key.json"))
	if err != nil || id != strings.TrimSpace(string(out)) {
		t.Errorf("CometNodeID = %q, %v; show-node-id says %q", id, err, strings.TrimSpace(string(out)))
	}
	cfg, err := os.ReadFile(filepath.Join(home, "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	node := &CometNode{Index: 1, RPCURL: "http://127.0.0.1:1", P2PAddr: "127.0.0.1:2"}
	if _, err := SetTOML(string(cfg), cometSettings(node, []string{id + "@127.0.0.1:3"})); err != nil {
		t.Errorf("config.toml of cometbft %s: %v", CometBFTVersion, err)
	}
}

func TestStartCometNetworkSingle(t *testing.T) {
	nodes := StartCometNetwork(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h0, err := CometHeight(ctx, nodes[0].RPCURL)
	if err != nil || h0 < 1 {
		t.Fatalf("height %d, %v", h0, err)
	}
	for range 100 { // a block a second; 20s at most
		h, err := CometHeight(ctx, nodes[0].RPCURL)
		if err != nil {
			t.Fatal(err)
		}
		if h > h0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("height stuck at %d", h0)
}

func TestStartGethDev(t *testing.T) {
	g := StartGethDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var chainID string
	if err := RPC(ctx, g.URL, "eth_chainId", []any{}, &chainID); err != nil || chainID != "0x539" {
		t.Fatalf("eth_chainId = %q, %v; want 0x539 (1337, --dev)", chainID, err)
	}
	var first string
	if err := RPC(ctx, g.URL, "eth_blockNumber", []any{}, &first); err != nil {
		t.Fatal(err)
	}
	for range 100 { // --dev.period 1; 20s at most
		var q string
		if err := RPC(ctx, g.URL, "eth_blockNumber", []any{}, &q); err != nil {
			t.Fatal(err)
		}
		if q != first {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("eth_blockNumber stuck at %s", first)
}
