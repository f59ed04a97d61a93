package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Flavors of chain node RPC the `jsonrpc` probe speaks.
const (
	FlavorEthereum = "ethereum" // Ethereum-style JSON-RPC: eth_*, net_*, web3_*
	FlavorCometBFT = "cometbft" // CometBFT (Tendermint) JSON-RPC: status, net_info, validators, blockchain
)

const (
	jsonrpcDefaultWindow = 5 * time.Second
	jsonrpcMaxWindow     = 2 * time.Minute
	jsonrpcDefaultBlocks = 10
	jsonrpcMaxBlocks     = 100
	jsonrpcMaxPeerIDs    = 100     // peer_ids keeps at most this many
	jsonrpcMaxValPages   = 10      // validators read at most 10 pages of 100
	jsonrpcMaxBody       = 8 << 20 // most bytes read of one response
)

// JSONRPCSpec is the `jsonrpc` probe's settings: a chain node's RPC endpoint
// (§1.3 blockchain validators: "blockchain-cli status", sync, peers, block
// production). The probe samples the height at the start and at the end of
// window, so one run tells whether blocks are being produced.
type JSONRPCSpec struct {
	URL     string            `yaml:"url" json:"url" doc:"the node's RPC endpoint, e.g. http://127.0.0.1:8545 (ethereum) or http://127.0.0.1:26657 (cometbft)"`
	Flavor  string            `yaml:"flavor" json:"flavor,omitempty" doc:"RPC dialect: ethereum (default) or cometbft"`
	Window  time.Duration     `yaml:"window" json:"window,omitempty" doc:"how long to watch the height advance (default 5s, at most 2m); must fit in the timeout"`
	Blocks  int               `yaml:"blocks" json:"blocks,omitempty" doc:"recent blocks to compute block time and TPS from (default 10, at most 100; 0 skips)"`
	Headers map[string]string `yaml:"headers" json:"headers,omitempty" doc:"request headers; use a secret reference for credentials"`

	TLSOptions `yaml:",inline"`
	Timeout    time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"whole-probe timeout, window included (default: the checkpoint's)"`
}

func (s *JSONRPCSpec) defaults() {
	s.Flavor = FlavorEthereum
	s.Window = jsonrpcDefaultWindow
	s.Blocks = jsonrpcDefaultBlocks
}

// Validate implements Spec.
func (s *JSONRPCSpec) Validate() error {
	if err := checkURL("url", s.URL); err != nil {
		return err
	}
	switch s.Flavor {
	case FlavorEthereum, FlavorCometBFT:
	default:
		return Fieldf("flavor", "%q is not one of %s, %s", s.Flavor, FlavorEthereum, FlavorCometBFT)
	}
	if s.Window <= 0 || s.Window > jsonrpcMaxWindow {
		return Fieldf("window", "must be positive and at most %s, not %s", jsonrpcMaxWindow, s.Window)
	}
	if s.Blocks < 0 || s.Blocks > jsonrpcMaxBlocks {
		return Fieldf("blocks", "must be between 0 and %d, not %d", jsonrpcMaxBlocks, s.Blocks)
	}
	for k, v := range s.Headers {
		if !isToken(k) {
			return Fieldf("headers", "%q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return Fieldf("headers", "value of %s holds a line break or NUL", k)
		}
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	if s.Timeout > 0 && s.Window >= s.Timeout {
		return Fieldf("window", "(%s) must be shorter than timeout (%s)", s.Window, s.Timeout)
	}
	return nil
}

// JSONRPCObservation is what a `jsonrpc` probe saw. Fields that only one
// flavor has stay at their zero value for the other. A method that answered
// with a JSON-RPC error leaves its fields at their zero value (peers at -1)
// and its message in errors.
type JSONRPCObservation struct {
	Flavor        string `json:"flavor"`
	ClientVersion string `json:"client_version"` // ethereum: web3_clientVersion; cometbft: node_info.version
	ChainID       int64  `json:"chain_id"`       // ethereum: eth_chainId
	Network       string `json:"network"`        // cometbft: the chain ID (node_info.network)
	NodeID        string `json:"node_id"`        // cometbft
	Moniker       string `json:"moniker"`        // cometbft

	// Syncing is eth_syncing != false (ethereum) or catching_up (cometbft).
	Syncing    bool        `json:"syncing"`
	CatchingUp bool        `json:"catching_up"` // cometbft
	Sync       JSONRPCSync `json:"sync"`        // ethereum, while syncing; zero otherwise

	Height    int64         `json:"height"`     // latest block height at the start of the window
	HeightEnd int64         `json:"height_end"` // latest block height at the end of the window
	Advanced  int64         `json:"advanced"`   // height_end - height
	Advancing bool          `json:"advancing"`  // advanced > 0
	Window    time.Duration `json:"window"`     // time between the two height samples

	Peers   int      `json:"peers"`    // net_peerCount or net_info.n_peers; -1 when not observed
	PeerIDs []string `json:"peer_ids"` // cometbft: node IDs of the peers (at most 100)

	Validators       int   `json:"validators"`         // cometbft: size of the validator set
	VotingPowerTotal int64 `json:"voting_power_total"` // cometbft: sum of the set's voting power
	VotingPower      int64 `json:"voting_power"`       // cometbft: this node's voting power (0: not a validator)

	LatestBlockTime  time.Time     `json:"latest_block_time"`  // time of the latest block at the end of the window
	BlockAge         time.Duration `json:"block_age"`          // now - latest_block_time
	BlockTimeSeconds float64       `json:"block_time_seconds"` // mean time between the last blocks_sampled blocks
	TPS              float64       `json:"tps"`                // transactions per second over those blocks
	BlocksSampled    int64         `json:"blocks_sampled"`     // block intervals behind block_time_seconds and tps (0: not computed)

	Latency time.Duration     `json:"latency"` // round trip of the first RPC call
	Errors  map[string]string `json:"errors"`  // optional method -> its JSON-RPC error message
}

// JSONRPCSync is an Ethereum node's sync progress (eth_syncing).
type JSONRPCSync struct {
	Current int64 `json:"current"`
	Highest int64 `json:"highest"`
}

func probeJSONRPC(ctx context.Context, env Env, s *JSONRPCSpec) (JSONRPCObservation, error) {
	obs := JSONRPCObservation{Flavor: s.Flavor, Peers: -1, Errors: map[string]string{}}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left <= s.Window {
			return obs, fmt.Errorf("window %s does not fit in the %s left before the timeout", s.Window, left.Round(time.Millisecond))
		}
	}
	client, err := s.HTTPClient(false, 0)
	if err != nil {
		return obs, fmt.Errorf("tls options: %w", err)
	}
	defer client.CloseIdleConnections()
	r := &jsonrpcRun{
		env: env, spec: s, obs: &obs,
		rpc: &rpcClient{url: s.URL, target: jsonrpcTarget(s.URL), headers: s.Headers, client: client},
	}
	switch s.Flavor {
	case FlavorCometBFT:
		err = r.cometbft(ctx)
	default:
		err = r.ethereum(ctx)
	}
	if err != nil {
		err = ctxError(ctx, err)
		env.logf("%s", err)
		return obs, err
	}
	env.logf("%s %s: height %d -> %d in %s, peers %d, syncing %t", s.Flavor, r.rpc.target,
		obs.Height, obs.HeightEnd, obs.Window.Round(time.Millisecond), obs.Peers, obs.Syncing)
	return obs, nil
}

// jsonrpcRun is one run of the probe.
type jsonrpcRun struct {
	env  Env
	spec *JSONRPCSpec
	obs  *JSONRPCObservation
	rpc  *rpcClient
}

// optional calls a method whose JSON-RPC error is an observation (in
// errors), not a probe error. ok reports whether result was filled.
func (r *jsonrpcRun) optional(ctx context.Context, method string, params, result any) (ok bool, err error) {
	err = r.rpc.call(ctx, method, params, result)
	var re *RPCError
	if errors.As(err, &re) {
		r.obs.Errors[method] = re.Message
		r.env.logf("%s: %v", method, re)
		return false, nil
	}
	return err == nil, err
}

// waitRest sleeps until window has passed since start, or ctx ends.
func (r *jsonrpcRun) waitRest(ctx context.Context, start time.Time) error {
	d := r.spec.Window - time.Since(start)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("watching the height: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

func (r *jsonrpcRun) advanced(start time.Time, end int64) {
	r.obs.Window = time.Since(start)
	r.obs.HeightEnd = end
	r.obs.Advanced = end - r.obs.Height
	r.obs.Advancing = r.obs.Advanced > 0
}

// --- Ethereum ---

func (r *jsonrpcRun) ethereum(ctx context.Context) error {
	obs := r.obs
	start := time.Now()
	h, err := r.ethHeight(ctx)
	if err != nil {
		return err
	}
	obs.Latency = time.Since(start)
	obs.Height = h

	var syncing json.RawMessage
	if err := r.rpc.call(ctx, "eth_syncing", []any{}, &syncing); err != nil {
		return err
	}
	if err := ethSyncing(syncing, obs); err != nil {
		return fmt.Errorf("eth_syncing: %w", err)
	}

	var q string
	if ok, err := r.optional(ctx, "eth_chainId", []any{}, &q); err != nil {
		return err
	} else if ok {
		if obs.ChainID, err = parseQuantity(q); err != nil {
			return fmt.Errorf("eth_chainId: %w", err)
		}
	}
	if ok, err := r.optional(ctx, "net_peerCount", []any{}, &q); err != nil {
		return err
	} else if ok {
		n, err := parseQuantity(q)
		if err != nil {
			return fmt.Errorf("net_peerCount: %w", err)
		}
		obs.Peers = int(n)
	}
	if _, err := r.optional(ctx, "web3_clientVersion", []any{}, &obs.ClientVersion); err != nil {
		return err
	}

	if err := r.waitRest(ctx, start); err != nil {
		return err
	}
	end, err := r.ethHeight(ctx)
	if err != nil {
		return err
	}
	r.advanced(start, end)
	return r.ethBlocks(ctx)
}

func (r *jsonrpcRun) ethHeight(ctx context.Context) (int64, error) {
	var q string
	if err := r.rpc.call(ctx, "eth_blockNumber", []any{}, &q); err != nil {
		return 0, err
	}
	h, err := parseQuantity(q)
	if err != nil {
		return 0, fmt.Errorf("eth_blockNumber: %w", err)
	}
	return h, nil
}

// ethSyncing reads eth_syncing's result: false, or an object with
// currentBlock and highestBlock.
func ethSyncing(raw json.RawMessage, obs *JSONRPCObservation) error {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "false" {
		return nil
	}
	var p struct {
		CurrentBlock string `json:"currentBlock"`
		HighestBlock string `json:"highestBlock"`
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("result %s is neither false nor an object", snippet(raw))
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	obs.Syncing = true
	var err error
	if obs.Sync.Current, err = parseQuantity(p.CurrentBlock); err != nil {
		return fmt.Errorf("currentBlock: %w", err)
	}
	if obs.Sync.Highest, err = parseQuantity(p.HighestBlock); err != nil {
		return fmt.Errorf("highestBlock: %w", err)
	}
	return nil
}

type ethBlock struct {
	Number       string            `json:"number"`
	Timestamp    string            `json:"timestamp"`
	Transactions []json.RawMessage `json:"transactions"`
}

// ethBlocks reads the latest block and the spec's number of blocks before
// it (never the genesis block, whose timestamp is arbitrary).
func (r *jsonrpcRun) ethBlocks(ctx context.Context) error {
	obs := r.obs
	last := obs.HeightEnd
	first := max(last-int64(r.spec.Blocks), 1)
	if r.spec.Blocks == 0 || last < 1 {
		first = last // the latest block's time only
	}
	var (
		firstTS, lastTS int64
		txs             int
	)
	for n := first; n <= last; n++ {
		var b *ethBlock
		ok, err := r.optional(ctx, "eth_getBlockByNumber", []any{"0x" + strconv.FormatInt(n, 16), false}, &b)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if b == nil {
			obs.Errors["eth_getBlockByNumber"] = fmt.Sprintf("block %d not found", n)
			return nil
		}
		ts, err := parseQuantity(b.Timestamp)
		if err != nil {
			return fmt.Errorf("eth_getBlockByNumber %d: timestamp: %w", n, err)
		}
		if n == first {
			firstTS = ts
		} else {
			txs += len(b.Transactions)
		}
		lastTS = ts
	}
	obs.LatestBlockTime = time.Unix(lastTS, 0).UTC()
	obs.BlockAge = time.Since(obs.LatestBlockTime)
	blockStats(obs, last-first, float64(lastTS-firstTS), txs)
	return nil
}

// blockStats sets block_time_seconds and tps from intervals blocks that
// span seconds and hold txs transactions.
func blockStats(obs *JSONRPCObservation, intervals int64, seconds float64, txs int) {
	if intervals < 1 {
		return
	}
	obs.BlocksSampled = intervals
	obs.BlockTimeSeconds = seconds / float64(intervals)
	if seconds > 0 {
		obs.TPS = float64(txs) / seconds
	}
}

// parseQuantity reads an Ethereum hex quantity ("0x1a").
func parseQuantity(q string) (int64, error) {
	digits, ok := strings.CutPrefix(q, "0x")
	if !ok {
		digits, ok = strings.CutPrefix(q, "0X")
	}
	if !ok || digits == "" {
		return 0, fmt.Errorf("%q is not a hex quantity", q)
	}
	v, err := strconv.ParseInt(digits, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a hex quantity below 2^63", q)
	}
	return v, nil
}

// --- CometBFT ---

// cmtInt is a CometBFT integer, which its JSON writes as a string.
type cmtInt int64

func (n *cmtInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", snippet(b))
	}
	*n = cmtInt(v)
	return nil
}

type cmtStatus struct {
	NodeInfo struct {
		ID      string `json:"id"`
		Network string `json:"network"`
		Version string `json:"version"`
		Moniker string `json:"moniker"`
	} `json:"node_info"`
	SyncInfo struct {
		LatestBlockHeight cmtInt    `json:"latest_block_height"`
		LatestBlockTime   time.Time `json:"latest_block_time"`
		CatchingUp        bool      `json:"catching_up"`
	} `json:"sync_info"`
	ValidatorInfo struct {
		VotingPower cmtInt `json:"voting_power"`
	} `json:"validator_info"`
}

type cmtNetInfo struct {
	NPeers cmtInt `json:"n_peers"`
	Peers  []struct {
		NodeInfo struct {
			ID string `json:"id"`
		} `json:"node_info"`
	} `json:"peers"`
}

type cmtValidators struct {
	Count      cmtInt `json:"count"`
	Total      cmtInt `json:"total"`
	Validators []struct {
		VotingPower cmtInt `json:"voting_power"`
	} `json:"validators"`
}

type cmtBlockchain struct {
	BlockMetas []struct {
		Header struct {
			Height cmtInt    `json:"height"`
			Time   time.Time `json:"time"`
		} `json:"header"`
		NumTxs cmtInt `json:"num_txs"`
	} `json:"block_metas"`
}

func (r *jsonrpcRun) cometbft(ctx context.Context) error {
	obs := r.obs
	start := time.Now()
	var st cmtStatus
	if err := r.rpc.call(ctx, "status", map[string]any{}, &st); err != nil {
		return err
	}
	obs.Latency = time.Since(start)
	obs.NodeID = st.NodeInfo.ID
	obs.Network = st.NodeInfo.Network
	obs.Moniker = st.NodeInfo.Moniker
	obs.ClientVersion = st.NodeInfo.Version
	obs.CatchingUp = st.SyncInfo.CatchingUp
	obs.Syncing = st.SyncInfo.CatchingUp
	obs.Height = int64(st.SyncInfo.LatestBlockHeight)
	obs.VotingPower = int64(st.ValidatorInfo.VotingPower)

	var ni cmtNetInfo
	if ok, err := r.optional(ctx, "net_info", map[string]any{}, &ni); err != nil {
		return err
	} else if ok {
		obs.Peers = int(ni.NPeers)
		obs.PeerIDs = []string{}
		for _, p := range ni.Peers {
			if len(obs.PeerIDs) == jsonrpcMaxPeerIDs {
				break
			}
			obs.PeerIDs = append(obs.PeerIDs, p.NodeInfo.ID)
		}
	}
	if err := r.cmtValidators(ctx); err != nil {
		return err
	}

	if err := r.waitRest(ctx, start); err != nil {
		return err
	}
	st = cmtStatus{}
	if err := r.rpc.call(ctx, "status", map[string]any{}, &st); err != nil {
		return err
	}
	r.advanced(start, int64(st.SyncInfo.LatestBlockHeight))
	if t := st.SyncInfo.LatestBlockTime; !t.IsZero() {
		obs.LatestBlockTime = t.UTC()
		obs.BlockAge = time.Since(t)
	}
	return r.cmtBlocks(ctx)
}

// cmtValidators counts the latest validator set and its voting power,
// reading at most jsonrpcMaxValPages pages of 100.
func (r *jsonrpcRun) cmtValidators(ctx context.Context) error {
	const perPage = 100
	var power int64
	for page := 1; page <= jsonrpcMaxValPages; page++ {
		var v cmtValidators
		ok, err := r.optional(ctx, "validators", map[string]any{"page": strconv.Itoa(page), "per_page": strconv.Itoa(perPage)}, &v)
		if err != nil || !ok {
			return err
		}
		r.obs.Validators = int(v.Total)
		for _, val := range v.Validators {
			power += int64(val.VotingPower)
		}
		r.obs.VotingPowerTotal = power
		if len(v.Validators) < perPage || int64(page*perPage) >= int64(v.Total) {
			return nil
		}
	}
	r.obs.Errors["validators"] = fmt.Sprintf("voting power summed over the first %d validators only", jsonrpcMaxValPages*perPage)
	return nil
}

// cmtBlocks reads the headers of the last blocks through `blockchain`,
// which returns at most 20 per call, newest first.
func (r *jsonrpcRun) cmtBlocks(ctx context.Context) error {
	last := r.obs.HeightEnd
	first := max(last-int64(r.spec.Blocks), 1)
	if r.spec.Blocks == 0 || last-first < 1 {
		return nil
	}
	var (
		times = map[int64]time.Time{}
		txs   int
	)
	for hi := last; hi >= first; hi -= 20 {
		lo := max(hi-19, first)
		var bc cmtBlockchain
		ok, err := r.optional(ctx, "blockchain", map[string]any{"minHeight": strconv.FormatInt(lo, 10), "maxHeight": strconv.FormatInt(hi, 10)}, &bc)
		if err != nil || !ok {
			return err
		}
		for _, m := range bc.BlockMetas {
			h := int64(m.Header.Height)
			if h < first || h > last {
				continue
			}
			times[h] = m.Header.Time
			if h > first {
				txs += int(m.NumTxs)
			}
		}
	}
	t0, ok0 := times[first]
	t1, ok1 := times[last]
	if !ok0 || !ok1 {
		r.obs.Errors["blockchain"] = fmt.Sprintf("blocks %d and %d not both returned", first, last)
		return nil
	}
	blockStats(r.obs, last-first, t1.Sub(t0).Seconds(), txs)
	return nil
}

// --- JSON-RPC 2.0 over HTTP ---

// RPCError is a JSON-RPC error response.
type RPCError struct {
	Method  string
	Code    int
	Message string // message, plus data when the server sent some
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("%s: rpc error %d: %s", e.Method, e.Code, e.Message)
}

type rpcClient struct {
	url     string
	target  string // for errors and logs: no path, query or credentials
	headers map[string]string
	client  *http.Client
	id      int
}

type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// call sends one JSON-RPC 2.0 request and decodes its result into result.
// A transport failure, a non-2xx status without a JSON-RPC body and a
// malformed response are errors; an error response is an *RPCError.
func (c *rpcClient) call(ctx context.Context, method string, params, result any) error {
	c.id++
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: POST %s: %w", method, c.target, unwrapURLError(err))
	}
	for k, v := range c.headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: POST %s: %w", method, c.target, ctxError(ctx, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, jsonrpcMaxBody+1))
	if err != nil {
		return fmt.Errorf("%s: POST %s: read body: %w", method, c.target, ctxError(ctx, err))
	}
	if len(data) > jsonrpcMaxBody {
		return fmt.Errorf("%s: POST %s: response larger than %d bytes", method, c.target, jsonrpcMaxBody)
	}
	var rr rpcResponse
	derr := json.Unmarshal(data, &rr)
	switch {
	case derr == nil && rr.Error != nil:
		msg := rr.Error.Message
		if d := bytes.TrimSpace(rr.Error.Data); len(d) > 0 && string(d) != "null" {
			var s string
			if json.Unmarshal(d, &s) != nil {
				s = string(d)
			}
			if s != "" && s != msg {
				msg += ": " + s
			}
		}
		return &RPCError{Method: method, Code: rr.Error.Code, Message: truncate(msg, 300)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Errorf("%s: POST %s: HTTP %d: %s", method, c.target, resp.StatusCode, snippet(data))
	case derr != nil:
		return fmt.Errorf("%s: POST %s: malformed JSON-RPC response: %v: %s", method, c.target, derr, snippet(data))
	case len(rr.Result) == 0:
		return fmt.Errorf("%s: POST %s: response has neither result nor error: %s", method, c.target, snippet(data))
	}
	if id, err := strconv.Atoi(strings.Trim(string(rr.ID), `"`)); err != nil || id != c.id {
		return fmt.Errorf("%s: POST %s: response id %s does not match request id %d", method, c.target, snippet(rr.ID), c.id)
	}
	if err := json.Unmarshal(rr.Result, result); err != nil {
		return fmt.Errorf("%s: POST %s: decode result: %v: %s", method, c.target, err, snippet(rr.Result))
	}
	return nil
}

// jsonrpcTarget is the endpoint as errors and logs show it: scheme and host
// only, since node providers put API keys in the path or query.
func jsonrpcTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	t := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" {
		t += "/…"
	}
	return t
}

// snippet quotes the start of a body for an error message.
func snippet(b []byte) string {
	return strconv.Quote(truncate(string(bytes.TrimSpace(b)), 120))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
