package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/testenv"
)

func jsonrpcSpec(url, flavor string, mod func(*JSONRPCSpec)) *JSONRPCSpec {
	s := &JSONRPCSpec{}
	s.defaults()
	s.URL = url
	s.Flavor = flavor
	s.Window = 20 * time.Millisecond
	if mod != nil {
		mod(s)
	}
	return s
}

// rpcErr is a JSON-RPC error a fake server answers with.
type rpcErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// rpcHandler answers one method: a result, a JSON-RPC error, or (raw != "")
// a body written as is.
type rpcHandler func(method string, params json.RawMessage) (result any, e *rpcErr, raw string)

// rpcServer is a JSON-RPC 2.0 server over HTTP that records the methods
// called and the Authorization header of the last request.
type rpcServer struct {
	*httptest.Server
	mu      sync.Mutex
	methods []string
	auth    string
}

func newRPCServer(t *testing.T, h rpcHandler) *rpcServer {
	t.Helper()
	s := &rpcServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.methods = append(s.methods, req.Method)
		s.auth = r.Header.Get("Authorization")
		s.mu.Unlock()
		result, e, raw := h(req.Method, req.Params)
		w.Header().Set("Content-Type", "application/json")
		if raw != "" {
			fmt.Fprint(w, raw)
			return
		}
		resp := map[string]any{"jsonrpc": "2.0", "id": req.ID}
		if e != nil {
			resp["error"] = e
		} else {
			resp["result"] = result
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rpcServer) called() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.methods)
}

// ethNode is a fake Ethereum node: eth_blockNumber answers heights in turn
// (the last repeats); block n has timestamp base+2n and n%3 transactions.
type ethNode struct {
	mu      sync.Mutex
	heights []int64
	syncing any
	errs    map[string]*rpcErr
	raw     map[string]string
}

const ethBaseTime = 1_700_000_000

func (f *ethNode) handle(method string, params json.RawMessage) (any, *rpcErr, string) {
	if r, ok := f.raw[method]; ok {
		return nil, nil, r
	}
	if e, ok := f.errs[method]; ok {
		return nil, e, ""
	}
	hex := func(n int64) string { return "0x" + strconv.FormatInt(n, 16) }
	switch method {
	case "eth_blockNumber":
		f.mu.Lock()
		defer f.mu.Unlock()
		h := f.heights[0]
		if len(f.heights) > 1 {
			f.heights = f.heights[1:]
		}
		return hex(h), nil, ""
	case "eth_syncing":
		if f.syncing == nil {
			return false, nil, ""
		}
		return f.syncing, nil, ""
	case "eth_chainId":
		return "0x539", nil, ""
	case "net_peerCount":
		return "0x3", nil, ""
	case "web3_clientVersion":
		return "Geth/v1.17.10-test/linux-amd64/go1.26", nil, ""
	case "eth_getBlockByNumber":
		var p []any
		if err := json.Unmarshal(params, &p); err != nil || len(p) != 2 || p[1] != false {
			return nil, &rpcErr{Code: -32602, Message: "invalid params"}, ""
		}
		n, err := parseQuantity(p[0].(string))
		if err != nil {
			return nil, &rpcErr{Code: -32602, Message: err.Error()}, ""
		}
		txs := make([]string, n%3)
		for i := range txs {
			txs[i] = fmt.Sprintf("0x%064x", n*10+int64(i))
		}
		return map[string]any{"number": hex(n), "timestamp": hex(ethBaseTime + 2*n), "transactions": txs}, nil, ""
	}
	return nil, &rpcErr{Code: -32601, Message: "the method " + method + " does not exist/is not available"}, ""
}

func TestJSONRPCEthereum(t *testing.T) {
	tests := []struct {
		name  string
		node  *ethNode
		mod   func(*JSONRPCSpec)
		check func(t *testing.T, obs JSONRPCObservation, methods []string)
	}{
		{
			name: "synced and advancing",
			node: &ethNode{heights: []int64{100, 103}},
			check: func(t *testing.T, obs JSONRPCObservation, methods []string) {
				if obs.Syncing || obs.Height != 100 || obs.HeightEnd != 103 || obs.Advanced != 3 || !obs.Advancing {
					t.Errorf("syncing %t height %d..%d advanced %d advancing %t, want false 100..103 3 true",
						obs.Syncing, obs.Height, obs.HeightEnd, obs.Advanced, obs.Advancing)
				}
				if obs.ChainID != 1337 || obs.Peers != 3 || !strings.HasPrefix(obs.ClientVersion, "Geth/") {
					t.Errorf("chain_id %d peers %d client_version %q", obs.ChainID, obs.Peers, obs.ClientVersion)
				}
				// Blocks 93..103: 10 intervals of 2s; blocks 94..103 hold
				// n%3 transactions: 10 in all.
				if obs.BlocksSampled != 10 || obs.BlockTimeSeconds != 2 || math.Abs(obs.TPS-10.0/20) > 1e-9 {
					t.Errorf("blocks_sampled %d block_time_seconds %v tps %v, want 10 2 0.5", obs.BlocksSampled, obs.BlockTimeSeconds, obs.TPS)
				}
				if want := time.Unix(ethBaseTime+206, 0).UTC(); !obs.LatestBlockTime.Equal(want) || obs.BlockAge <= 0 {
					t.Errorf("latest_block_time %s block_age %s, want %s and positive", obs.LatestBlockTime, obs.BlockAge, want)
				}
				if len(obs.Errors) != 0 || obs.Window < 20*time.Millisecond {
					t.Errorf("errors %v window %s", obs.Errors, obs.Window)
				}
				if n := strings.Count(strings.Join(methods, " "), "eth_getBlockByNumber"); n != 11 {
					t.Errorf("%d eth_getBlockByNumber calls, want 11", n)
				}
			},
		},
		{
			name: "syncing object",
			node: &ethNode{heights: []int64{16, 16}, syncing: map[string]any{
				"startingBlock": "0x0", "currentBlock": "0x10", "highestBlock": "0x20", "txIndexRemainingBlocks": "0x1",
			}},
			check: func(t *testing.T, obs JSONRPCObservation, _ []string) {
				if !obs.Syncing || obs.Sync != (JSONRPCSync{Current: 16, Highest: 32}) {
					t.Errorf("syncing %t sync %+v, want true {16 32}", obs.Syncing, obs.Sync)
				}
				if obs.Advancing || obs.Advanced != 0 {
					t.Errorf("advancing %t advanced %d, want false 0", obs.Advancing, obs.Advanced)
				}
			},
		},
		{
			name: "RPC error on an optional method",
			node: &ethNode{heights: []int64{5, 6}, errs: map[string]*rpcErr{
				"net_peerCount": {Code: -32601, Message: "the method net_peerCount does not exist/is not available"},
				"eth_chainId":   {Code: -32000, Message: "internal", Data: "chain config missing"},
			}},
			check: func(t *testing.T, obs JSONRPCObservation, _ []string) {
				want := map[string]string{
					"net_peerCount": "the method net_peerCount does not exist/is not available",
					"eth_chainId":   "internal: chain config missing",
				}
				if fmt.Sprint(obs.Errors) != fmt.Sprint(want) {
					t.Errorf("errors = %v, want %v", obs.Errors, want)
				}
				if obs.Peers != -1 || obs.ChainID != 0 || obs.HeightEnd != 6 || !obs.Advancing {
					t.Errorf("peers %d chain_id %d height_end %d advancing %t", obs.Peers, obs.ChainID, obs.HeightEnd, obs.Advancing)
				}
				// Blocks 1..6 (never the genesis block).
				if obs.BlocksSampled != 5 || obs.BlockTimeSeconds != 2 {
					t.Errorf("blocks_sampled %d block_time_seconds %v, want 5 2", obs.BlocksSampled, obs.BlockTimeSeconds)
				}
			},
		},
		{
			name: "RPC error on block history",
			node: &ethNode{heights: []int64{50, 51}, errs: map[string]*rpcErr{
				"eth_getBlockByNumber": {Code: -32000, Message: "historical state not available"},
			}},
			check: func(t *testing.T, obs JSONRPCObservation, _ []string) {
				if obs.Errors["eth_getBlockByNumber"] != "historical state not available" || obs.BlocksSampled != 0 || obs.BlockTimeSeconds != 0 {
					t.Errorf("errors %v blocks_sampled %d block_time %v", obs.Errors, obs.BlocksSampled, obs.BlockTimeSeconds)
				}
				if !obs.Advancing || obs.Peers != 3 {
					t.Errorf("advancing %t peers %d", obs.Advancing, obs.Peers)
				}
			},
		},
		{
			name: "stalled, blocks 0 reads only the latest block",
			node: &ethNode{heights: []int64{7}},
			mod:  func(s *JSONRPCSpec) { s.Blocks = 0 },
			check: func(t *testing.T, obs JSONRPCObservation, methods []string) {
				if obs.Advancing || obs.Advanced != 0 || obs.HeightEnd != 7 {
					t.Errorf("advancing %t advanced %d height_end %d", obs.Advancing, obs.Advanced, obs.HeightEnd)
				}
				if obs.BlocksSampled != 0 || obs.LatestBlockTime.Unix() != ethBaseTime+14 {
					t.Errorf("blocks_sampled %d latest_block_time %s", obs.BlocksSampled, obs.LatestBlockTime)
				}
				if n := strings.Count(strings.Join(methods, " "), "eth_getBlockByNumber"); n != 1 {
					t.Errorf("%d eth_getBlockByNumber calls, want 1", n)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRPCServer(t, tc.node.handle)
			obs, err := probeJSONRPC(context.Background(), Env{Logf: t.Logf}, jsonrpcSpec(srv.URL, FlavorEthereum, tc.mod))
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			if obs.Flavor != FlavorEthereum {
				t.Errorf("flavor %q", obs.Flavor)
			}
			tc.check(t, obs, srv.called())
		})
	}
}

// cometNode is a fake CometBFT node serving testdata/jsonrpc-cometbft-*.json
// (answers of a real v1.0.1 node of a 4-validator network),
// with status heights answered in turn (the last repeats) and a block every
// second with height%4 transactions.
type cometNode struct {
	mu      sync.Mutex
	heights []int64
	errs    map[string]*rpcErr
}

var cometT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func cometFixture(t *testing.T, method string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "jsonrpc-cometbft-"+method+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		t.Fatalf("%s fixture: %v", method, err)
	}
	return resp.Result
}

func (f *cometNode) handler(t *testing.T) rpcHandler {
	fixtures := map[string]map[string]any{}
	for _, m := range []string{"status", "net_info", "validators"} {
		fixtures[m] = cometFixture(t, m)
	}
	return func(method string, params json.RawMessage) (any, *rpcErr, string) {
		if e, ok := f.errs[method]; ok {
			return nil, e, ""
		}
		switch method {
		case "status":
			f.mu.Lock()
			h := f.heights[0]
			if len(f.heights) > 1 {
				f.heights = f.heights[1:]
			}
			f.mu.Unlock()
			st := fixtures["status"]
			si := st["sync_info"].(map[string]any)
			si["latest_block_height"] = strconv.FormatInt(h, 10)
			si["latest_block_time"] = cometT0.Add(time.Duration(h) * time.Second).Format(time.RFC3339Nano)
			return st, nil, ""
		case "net_info", "validators":
			return fixtures[method], nil, ""
		case "blockchain":
			var p struct{ MinHeight, MaxHeight string }
			if err := json.Unmarshal(params, &p); err != nil {
				return nil, &rpcErr{Code: -32602, Message: err.Error()}, ""
			}
			lo, _ := strconv.ParseInt(p.MinHeight, 10, 64)
			hi, _ := strconv.ParseInt(p.MaxHeight, 10, 64)
			lo = max(lo, hi-19)
			var metas []any
			for h := hi; h >= lo; h-- {
				metas = append(metas, map[string]any{
					"block_id":   map[string]any{"hash": "AA"},
					"block_size": "600",
					"header":     map[string]any{"height": strconv.FormatInt(h, 10), "time": cometT0.Add(time.Duration(h) * time.Second).Format(time.RFC3339Nano)},
					"num_txs":    strconv.FormatInt(h%4, 10),
				})
			}
			return map[string]any{"last_height": strconv.FormatInt(hi, 10), "block_metas": metas}, nil, ""
		}
		return nil, &rpcErr{Code: -32601, Message: "Method not found"}, ""
	}
}

func TestJSONRPCCometBFT(t *testing.T) {
	t.Run("healthy validator", func(t *testing.T) {
		f := &cometNode{heights: []int64{120, 122}}
		srv := newRPCServer(t, f.handler(t))
		obs, err := probeJSONRPC(context.Background(), Env{Logf: t.Logf}, jsonrpcSpec(srv.URL, FlavorCometBFT, func(s *JSONRPCSpec) { s.Blocks = 30 }))
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if obs.CatchingUp || obs.Syncing || obs.Height != 120 || obs.HeightEnd != 122 || obs.Advanced != 2 || !obs.Advancing {
			t.Errorf("catching_up %t height %d..%d advanced %d advancing %t", obs.CatchingUp, obs.Height, obs.HeightEnd, obs.Advanced, obs.Advancing)
		}
		if obs.Peers != 3 || len(obs.PeerIDs) != 3 || obs.PeerIDs[0] != "44178669e84ec4b03da11af8c7e30c7bf2af3a69" {
			t.Errorf("peers %d peer_ids %v", obs.Peers, obs.PeerIDs)
		}
		if obs.Validators != 4 || obs.VotingPowerTotal != 4 || obs.VotingPower != 1 {
			t.Errorf("validators %d voting_power_total %d voting_power %d", obs.Validators, obs.VotingPowerTotal, obs.VotingPower)
		}
		if obs.Network != "chain-hNDlMb" || obs.Moniker != "node0" || obs.ClientVersion != "1.0.1" || obs.NodeID != "085592d8ee8c04d7435c26aec1963bb92c22ee88" {
			t.Errorf("network %q moniker %q version %q node_id %q", obs.Network, obs.Moniker, obs.ClientVersion, obs.NodeID)
		}
		if want := cometT0.Add(122 * time.Second); !obs.LatestBlockTime.Equal(want) || obs.BlockAge < time.Since(want)-time.Minute {
			t.Errorf("latest_block_time %s block_age %s, want %s", obs.LatestBlockTime, obs.BlockAge, want)
		}
		// Blocks 92..122 over two blockchain pages: 30 one-second
		// intervals; blocks 93..122 hold h%4 transactions: 45 in all.
		if obs.BlocksSampled != 30 || obs.BlockTimeSeconds != 1 || math.Abs(obs.TPS-1.5) > 1e-9 {
			t.Errorf("blocks_sampled %d block_time_seconds %v tps %v, want 30 1 1.5", obs.BlocksSampled, obs.BlockTimeSeconds, obs.TPS)
		}
		if n := strings.Count(strings.Join(srv.called(), " "), "blockchain"); n != 2 {
			t.Errorf("%d blockchain calls, want 2", n)
		}
		if len(obs.Errors) != 0 {
			t.Errorf("errors %v", obs.Errors)
		}
	})
	t.Run("optional methods failing", func(t *testing.T) {
		f := &cometNode{heights: []int64{9}, errs: map[string]*rpcErr{
			"net_info":   {Code: -32603, Message: "Internal error", Data: "net_info disabled"},
			"validators": {Code: -32603, Message: "Internal error", Data: "height 9 must be less than or equal to the current blockchain height 8"},
			"blockchain": {Code: -32601, Message: "Method not found"},
		}}
		srv := newRPCServer(t, f.handler(t))
		obs, err := probeJSONRPC(context.Background(), Env{Logf: t.Logf}, jsonrpcSpec(srv.URL, FlavorCometBFT, nil))
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if obs.Peers != -1 || obs.PeerIDs != nil || obs.Validators != 0 || obs.Advancing || obs.HeightEnd != 9 {
			t.Errorf("peers %d peer_ids %v validators %d advancing %t height_end %d", obs.Peers, obs.PeerIDs, obs.Validators, obs.Advancing, obs.HeightEnd)
		}
		want := map[string]string{
			"net_info":   "Internal error: net_info disabled",
			"validators": "Internal error: height 9 must be less than or equal to the current blockchain height 8",
			"blockchain": "Method not found",
		}
		if fmt.Sprint(obs.Errors) != fmt.Sprint(want) {
			t.Errorf("errors = %v, want %v", obs.Errors, want)
		}
	})
}

func TestJSONRPCProbeErrors(t *testing.T) {
	healthy := &ethNode{heights: []int64{1, 2}}
	tests := []struct {
		name    string
		handler rpcHandler
		url     string // instead of the server's
		mod     func(*JSONRPCSpec)
		ctx     func() (context.Context, context.CancelFunc)
		want    string
		is      error
	}{
		{
			name: "RPC error on a required method",
			handler: (&ethNode{heights: []int64{1}, errs: map[string]*rpcErr{
				"eth_blockNumber": {Code: -32000, Message: "server is shutting down"},
			}}).handle,
			want: "eth_blockNumber: rpc error -32000: server is shutting down",
		},
		{
			name:    "RPC error on eth_syncing",
			handler: (&ethNode{heights: []int64{1}, errs: map[string]*rpcErr{"eth_syncing": {Code: -32601, Message: "no such method"}}}).handle,
			want:    "eth_syncing: rpc error -32601: no such method",
		},
		{
			name:    "malformed JSON",
			handler: (&ethNode{heights: []int64{1}, raw: map[string]string{"eth_blockNumber": `{"jsonrpc":"2.0","id":1,"result":"0x1"`}}).handle,
			want:    "eth_blockNumber: POST http://127.0.0.1",
		},
		{
			name:    "malformed result",
			handler: (&ethNode{heights: []int64{1}, raw: map[string]string{"eth_blockNumber": `{"jsonrpc":"2.0","id":1,"result":"12"}`}}).handle,
			want:    `eth_blockNumber: "12" is not a hex quantity`,
		},
		{
			name:    "eth_syncing neither false nor object",
			handler: (&ethNode{heights: []int64{1}, raw: map[string]string{"eth_syncing": `{"jsonrpc":"2.0","id":2,"result":true}`}}).handle,
			want:    "eth_syncing: result \"true\" is neither false nor an object",
		},
		{
			name:    "neither result nor error",
			handler: (&ethNode{heights: []int64{1}, raw: map[string]string{"eth_blockNumber": `{"jsonrpc":"2.0","id":1}`}}).handle,
			want:    "response has neither result nor error",
		},
		{
			name:    "wrong response id",
			handler: (&ethNode{heights: []int64{1}, raw: map[string]string{"eth_blockNumber": `{"jsonrpc":"2.0","id":7,"result":"0x1"}`}}).handle,
			want:    `response id "7" does not match request id 1`,
		},
		{
			name: "cometbft status malformed",
			handler: func(method string, _ json.RawMessage) (any, *rpcErr, string) {
				return nil, nil, `{"jsonrpc":"2.0","id":1,"result":{"sync_info":{"latest_block_height":"ten"}}}`
			},
			mod:  func(s *JSONRPCSpec) { s.Flavor = FlavorCometBFT },
			want: `status: POST http://127.0.0.1`,
		},
		{
			name: "connection refused",
			url:  "http://127.0.0.1:1/secret-key-in-path",
			want: "eth_blockNumber: POST http://127.0.0.1:1/…: ",
		},
		{
			name:    "window longer than the time left",
			handler: healthy.handle,
			mod:     func(s *JSONRPCSpec) { s.Window = time.Minute },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 10*time.Second)
			},
			want: "window 1m0s does not fit in the",
		},
		{
			name:    "cancelled during the window",
			handler: healthy.handle,
			mod:     func(s *JSONRPCSpec) { s.Window = time.Minute },
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(200*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: "watching the height: context canceled",
			is:   context.Canceled,
		},
		{
			name: "timeout on a slow node",
			handler: func(method string, params json.RawMessage) (any, *rpcErr, string) {
				if method == "eth_syncing" {
					time.Sleep(time.Second)
				}
				return healthy.handle(method, params)
			},
			mod:  func(s *JSONRPCSpec) { s.Window = 100 * time.Millisecond; s.Timeout = 300 * time.Millisecond },
			want: "eth_syncing: POST http://127.0.0.1",
			is:   context.DeadlineExceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if tc.handler != nil {
				srv := newRPCServer(t, tc.handler)
				url = srv.URL
			}
			s := jsonrpcSpec(url, FlavorEthereum, tc.mod)
			if err := s.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			start := time.Now()
			_, err := probeJSONRPC(ctx, Env{Logf: t.Logf}, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "secret-key") {
				t.Errorf("error shows the URL's path: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestJSONRPCHTTPFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"HTTP error page", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
		}, `eth_blockNumber: POST http://127.0.0.1`},
		{"JSON-RPC error with HTTP 500 is still an RPC error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"boom"}}`)
		}, "eth_blockNumber: rpc error -32603: Internal error: boom"},
		{"not JSON with HTTP 200", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "OK")
		}, "malformed JSON-RPC response"},
		{"oversized response", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":"`)
			chunk := strings.Repeat("0", 1<<20)
			for range 9 {
				fmt.Fprint(w, chunk)
			}
			fmt.Fprint(w, `"}`)
		}, "response larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			_, err := probeJSONRPC(context.Background(), Env{Logf: t.Logf}, jsonrpcSpec(srv.URL, FlavorEthereum, nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestJSONRPCHeadersAndFlatten(t *testing.T) {
	node := &ethNode{heights: []int64{3, 4}}
	srv := newRPCServer(t, node.handle)
	s := jsonrpcSpec(srv.URL, FlavorEthereum, func(s *JSONRPCSpec) {
		s.Headers = map[string]string{"Authorization": "Bearer t0k3n"}
	})
	obs, err := probeJSONRPC(context.Background(), Env{}, s)
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	auth := srv.auth
	srv.mu.Unlock()
	if auth != "Bearer t0k3n" {
		t.Errorf("Authorization = %q", auth)
	}
	m := Flatten(obs)
	for _, f := range []string{"syncing", "sync", "height", "height_end", "advanced", "advancing", "peers", "block_time_seconds", "tps", "errors", "chain_id", "client_version"} {
		if _, ok := m[f]; !ok {
			t.Errorf("flattened observation lacks %q: %v", f, m)
		}
	}
	if m["advancing"] != true || m["peers"] != int64(3) || m["sync"].(map[string]any)["highest"] != int64(0) {
		t.Errorf("flattened: advancing %v peers %v sync %v", m["advancing"], m["peers"], m["sync"])
	}
}

func TestJSONRPCValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*JSONRPCSpec)
		want string // "" for valid
	}{
		{"defaults", nil, ""},
		{"cometbft", func(s *JSONRPCSpec) { s.Flavor = FlavorCometBFT }, ""},
		{"window at max, blocks 0", func(s *JSONRPCSpec) { s.Window = 2 * time.Minute; s.Blocks = 0 }, ""},
		{"no url", func(s *JSONRPCSpec) { s.URL = "" }, "url: is required"},
		{"relative url", func(s *JSONRPCSpec) { s.URL = "/rpc" }, "url: must be absolute"},
		{"ws url", func(s *JSONRPCSpec) { s.URL = "ws://127.0.0.1:8546" }, "url: must be absolute"},
		{"no host", func(s *JSONRPCSpec) { s.URL = "http:///rpc" }, "url: has no host"},
		{"bad url", func(s *JSONRPCSpec) { s.URL = "http://[::1" }, "url: not a valid URL"},
		{"flavor", func(s *JSONRPCSpec) { s.Flavor = "bitcoin" }, `flavor: "bitcoin" is not one of ethereum, cometbft`},
		{"window zero", func(s *JSONRPCSpec) { s.Window = 0 }, "window: must be positive"},
		{"window too long", func(s *JSONRPCSpec) { s.Window = 3 * time.Minute }, "window: must be positive and at most 2m0s"},
		{"blocks negative", func(s *JSONRPCSpec) { s.Blocks = -1 }, "blocks: must be between 0 and 100"},
		{"blocks too many", func(s *JSONRPCSpec) { s.Blocks = 101 }, "blocks: must be between 0 and 100, not 101"},
		{"header name", func(s *JSONRPCSpec) { s.Headers = map[string]string{"Bad Name": "x"} }, "headers:"},
		{"header value", func(s *JSONRPCSpec) { s.Headers = map[string]string{"X-Key": "a\nb"} }, "headers: value of X-Key"},
		{"timeout negative", func(s *JSONRPCSpec) { s.Timeout = -time.Second }, "timeout: must not be negative"},
		{"window not shorter than timeout", func(s *JSONRPCSpec) { s.Timeout = 5 * time.Second }, "window: (5s) must be shorter than timeout (5s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &JSONRPCSpec{}
			s.defaults()
			s.URL = "http://127.0.0.1:8545"
			if tc.mod != nil {
				tc.mod(s)
			}
			err := s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError containing %q", err, tc.want)
			}
		})
	}
}

func TestJSONRPCDefaultsFromRegistry(t *testing.T) {
	k, ok := Default().Lookup("jsonrpc")
	if !ok {
		t.Fatal("jsonrpc kind not registered")
	}
	s, ok := k.NewSpec().(*JSONRPCSpec)
	if !ok || s.Flavor != FlavorEthereum || s.Window != 5*time.Second || s.Blocks != 10 {
		t.Fatalf("NewSpec() = %#v, want flavor ethereum, window 5s, blocks 10", k.NewSpec())
	}
	for _, f := range []string{"chain_id", "syncing", "sync", "height", "height_end", "advanced", "advancing", "peers",
		"block_time_seconds", "tps", "client_version", "catching_up", "peer_ids", "validators", "voting_power_total",
		"latest_block_time", "block_age", "node_id", "network", "moniker", "errors"} {
		if !slices.Contains(k.Fields(), f) {
			t.Errorf("observation field %q missing from %v", f, k.Fields())
		}
	}
}

func TestJSONRPCParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0x0", 0, true}, {"0x1a", 26, true}, {"0X1A", 26, true}, {"0x7fffffffffffffff", math.MaxInt64, true},
		{"", 0, false}, {"0x", 0, false}, {"26", 0, false}, {"0xzz", 0, false}, {"0x8000000000000000", 0, false}, {"-0x1", 0, false},
	}
	for _, tc := range tests {
		got, err := parseQuantity(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseQuantity(%q) = %d, %v; want %d, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// liveProbe runs the probe against a real node, failing the test on a
// probe error.
func liveProbe(t *testing.T, url, flavor string, window time.Duration, blocks int) JSONRPCObservation {
	t.Helper()
	s := jsonrpcSpec(url, flavor, func(s *JSONRPCSpec) { s.Window = window; s.Blocks = blocks })
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), window+30*time.Second)
	defer cancel()
	obs, err := probeJSONRPC(ctx, Env{}, s)
	if err != nil {
		t.Fatalf("probe %s: %v", url, err)
	}
	t.Logf("%s: height %d->%d advancing %t peers %d catching_up %t syncing %t block_time %.2fs errors %v",
		url, obs.Height, obs.HeightEnd, obs.Advancing, obs.Peers, obs.CatchingUp, obs.Syncing, obs.BlockTimeSeconds, obs.Errors)
	return obs
}

// waitObs probes every so often until cond holds, at most tries times.
func waitObs(t *testing.T, what string, tries int, probe func() JSONRPCObservation, cond func(JSONRPCObservation) bool) JSONRPCObservation {
	t.Helper()
	var obs JSONRPCObservation
	for range tries {
		if obs = probe(); cond(obs) {
			return obs
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not after %d probes; last observation %+v", what, tries, obs)
	return obs
}

// TestJSONRPCCometNetwork runs the probe against a real 4-validator
// CometBFT network on loopback: healthy, one validator down (peers drop,
// blocks go on), two down (no 2/3 majority: the height stops).
func TestJSONRPCCometNetwork(t *testing.T) {
	nodes := testenv.StartCometNetwork(t, 4)
	quick := func(i int) func() JSONRPCObservation {
		return func() JSONRPCObservation {
			return liveProbe(t, nodes[i].RPCURL, FlavorCometBFT, 100*time.Millisecond, 0)
		}
	}

	// All four connected and synced.
	waitObs(t, "node 0 has 3 peers", 60, quick(0), func(o JSONRPCObservation) bool { return o.Peers == 3 })
	for i := range nodes {
		waitObs(t, fmt.Sprintf("node %d synced", i), 60, quick(i), func(o JSONRPCObservation) bool {
			return !o.CatchingUp && o.Height >= 1
		})
	}
	obs := liveProbe(t, nodes[0].RPCURL, FlavorCometBFT, 4*time.Second, 10)
	if !obs.Advancing || obs.Advanced < 1 || obs.CatchingUp || obs.Syncing {
		t.Errorf("healthy network: advancing %t advanced %d catching_up %t", obs.Advancing, obs.Advanced, obs.CatchingUp)
	}
	if obs.Peers != 3 || len(obs.PeerIDs) != 3 {
		t.Errorf("healthy network: peers %d peer_ids %v, want 3", obs.Peers, obs.PeerIDs)
	}
	for _, n := range nodes[1:] {
		if !slices.Contains(obs.PeerIDs, n.ID) {
			t.Errorf("peer_ids %v lacks node %d (%s)", obs.PeerIDs, n.Index, n.ID)
		}
	}
	if obs.NodeID != nodes[0].ID || obs.Moniker != "node0" || obs.Network == "" || obs.ClientVersion == "" {
		t.Errorf("node_id %q (want %q) moniker %q network %q version %q", obs.NodeID, nodes[0].ID, obs.Moniker, obs.Network, obs.ClientVersion)
	}
	if obs.Validators != 4 || obs.VotingPowerTotal < 4 || obs.VotingPower < 1 {
		t.Errorf("validators %d voting_power_total %d voting_power %d", obs.Validators, obs.VotingPowerTotal, obs.VotingPower)
	}
	if obs.BlocksSampled < 1 || obs.BlockTimeSeconds <= 0 || obs.BlockTimeSeconds > 10 || obs.TPS != 0 {
		t.Errorf("blocks_sampled %d block_time_seconds %v tps %v", obs.BlocksSampled, obs.BlockTimeSeconds, obs.TPS)
	}
	if obs.LatestBlockTime.IsZero() || obs.BlockAge > time.Minute || len(obs.Errors) != 0 {
		t.Errorf("latest_block_time %s block_age %s errors %v", obs.LatestBlockTime, obs.BlockAge, obs.Errors)
	}

	// One of four down: 3/4 of the voting power still commits blocks.
	nodes[3].Stop()
	waitObs(t, "node 0 down to 2 peers", 60, quick(0), func(o JSONRPCObservation) bool { return o.Peers == 2 })
	obs = liveProbe(t, nodes[0].RPCURL, FlavorCometBFT, 10*time.Second, 5)
	if !obs.Advancing || obs.Peers != 2 {
		t.Errorf("one node down: advancing %t peers %d, want true 2", obs.Advancing, obs.Peers)
	}

	// Two of four down: no 2/3 majority, so the height stops. A block
	// already under way may still commit: wait until a window sees none.
	nodes[2].Stop()
	waitObs(t, "node 0 down to 1 peer", 60, quick(0), func(o JSONRPCObservation) bool { return o.Peers == 1 })
	waitObs(t, "height stalled", 10, func() JSONRPCObservation {
		return liveProbe(t, nodes[0].RPCURL, FlavorCometBFT, 3*time.Second, 0)
	}, func(o JSONRPCObservation) bool { return !o.Advancing })
	obs = liveProbe(t, nodes[0].RPCURL, FlavorCometBFT, 5*time.Second, 0)
	if obs.Advancing || obs.Advanced != 0 || obs.Peers != 1 {
		t.Errorf("two nodes down: advancing %t advanced %d peers %d, want false 0 1", obs.Advancing, obs.Advanced, obs.Peers)
	}
	if obs.BlockAge < 5*time.Second {
		t.Errorf("two nodes down: block_age %s, want at least the window", obs.BlockAge)
	}
}

// TestJSONRPCGethDev runs the probe against a real go-ethereum node in
// --dev mode (a block a second, no peers).
func TestJSONRPCGethDev(t *testing.T) {
	g := testenv.StartGethDev(t)
	// Let a few blocks exist, so block time has intervals to average.
	waitObs(t, "geth height >= 4", 60, func() JSONRPCObservation {
		return liveProbe(t, g.URL, FlavorEthereum, 100*time.Millisecond, 0)
	}, func(o JSONRPCObservation) bool { return o.Height >= 4 })

	obs := liveProbe(t, g.URL, FlavorEthereum, 3*time.Second, 10)
	if obs.Syncing || obs.Sync != (JSONRPCSync{}) {
		t.Errorf("syncing %t sync %+v, want false", obs.Syncing, obs.Sync)
	}
	if !obs.Advancing || obs.Advanced < 1 {
		t.Errorf("advancing %t advanced %d over %s", obs.Advancing, obs.Advanced, obs.Window)
	}
	if obs.Peers != 0 || obs.ChainID != 1337 || !strings.HasPrefix(obs.ClientVersion, "Geth/v1.17.10") {
		t.Errorf("peers %d chain_id %d client_version %q, want 0 1337 Geth/v1.17.10…", obs.Peers, obs.ChainID, obs.ClientVersion)
	}
	if obs.BlocksSampled < 3 || obs.BlockTimeSeconds < 0.5 || obs.BlockTimeSeconds > 3 || obs.TPS != 0 {
		t.Errorf("blocks_sampled %d block_time_seconds %v tps %v, want about 1s and 0", obs.BlocksSampled, obs.BlockTimeSeconds, obs.TPS)
	}
	if obs.BlockAge > 30*time.Second || obs.BlockAge < -2*time.Second || len(obs.Errors) != 0 {
		t.Errorf("block_age %s errors %v", obs.BlockAge, obs.Errors)
	}
}
