package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
)

// AlertmanagerSpec is the `alertmanager` probe's settings.
type AlertmanagerSpec struct {
	URL         string `yaml:"url" json:"url" doc:"base URL of Alertmanager, e.g. http://alertmanager:9093"`
	BearerToken string `yaml:"bearer_token" json:"-" doc:"bearer token sent as Authorization (use ${secrets.NAME}); never observed or logged"`
	TLSOptions  `yaml:",inline"`
	Labels      map[string]string `yaml:"labels" json:"labels,omitempty" doc:"labels of an alert to route, e.g. {severity: critical, team: payments}"`
	Timeout     time.Duration     `yaml:"timeout" json:"timeout,omitempty" doc:"whole-probe timeout (default: the checkpoint's)"`
}

// Validate implements Spec.
func (s *AlertmanagerSpec) Validate() error {
	if err := validateAPIURL(s.URL); err != nil {
		return err
	}
	if strings.ContainsAny(s.BearerToken, "\r\n\x00") {
		return Fieldf("bearer_token", "holds a line break or NUL")
	}
	for k := range s.Labels {
		if k == "" || strings.HasPrefix(k, "__") || !model.LabelName(k).IsValid() {
			return Fieldf("labels", "%q is not a valid label name", k)
		}
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// AlertmanagerObservation is what an `alertmanager` probe saw: its status,
// and where its routing tree sends an alert with the given labels.
type AlertmanagerObservation struct {
	Labels        map[string]string   `json:"labels"`         // the alert's labels, as routed
	Receivers     []string            `json:"receivers"`      // receivers of the matching routes, in routing order
	Receiver      string              `json:"receiver"`       // the first of receivers
	Routes        []AlertmanagerRoute `json:"routes"`         // the matching routes, in routing order
	ReceiverTypes map[string][]string `json:"receiver_types"` // every configured receiver → its integration types ("pagerduty", "slack", "webhook", "email", …), sorted; empty for a null receiver
	RoutesCount   int                 `json:"routes_count"`   // nodes of the routing tree, the root included
	InhibitRules  int                 `json:"inhibit_rules"`  // inhibit rules configured
	ClusterStatus string              `json:"cluster_status"` // "ready", "settling" or "disabled"
	ClusterPeers  int                 `json:"cluster_peers"`
	Version       string              `json:"version"`
	StartedAt     time.Time           `json:"started_at"`
	Uptime        time.Duration       `json:"uptime"`
	Latency       time.Duration       `json:"latency"` // GET /api/v2/status
}

// AlertmanagerRoute is one route an alert matched.
type AlertmanagerRoute struct {
	Receiver       string        `json:"receiver"`
	Matchers       []string      `json:"matchers"` // this route's own, e.g. severity="critical"
	GroupBy        []string      `json:"group_by"` // ["..."] when grouping by all labels
	Continue       bool          `json:"continue"`
	GroupWait      time.Duration `json:"group_wait"`
	GroupInterval  time.Duration `json:"group_interval"`
	RepeatInterval time.Duration `json:"repeat_interval"`
	MuteTimes      []string      `json:"mute_time_intervals"`
	ActiveTimes    []string      `json:"active_time_intervals"`
}

// amStatus is the part of GET /api/v2/status PRF reads.
type amStatus struct {
	Cluster struct {
		Status string            `json:"status"`
		Peers  []json.RawMessage `json:"peers"`
	} `json:"cluster"`
	Config struct {
		Original *string `json:"original"`
	} `json:"config"`
	Uptime      time.Time `json:"uptime"`
	VersionInfo struct {
		Version string `json:"version"`
	} `json:"versionInfo"`
}

const amMaxStatusBytes = 16 << 20

func probeAlertmanager(ctx context.Context, env Env, s *AlertmanagerSpec) (AlertmanagerObservation, error) {
	var obs AlertmanagerObservation
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	target := redactURL(s.URL)
	fail := func(format string, args ...any) (AlertmanagerObservation, error) {
		err := redactSecret(fmt.Errorf(format, args...), s.BearerToken)
		env.logf("alertmanager %s: %v", target, err)
		return obs, fmt.Errorf("alertmanager %s: %w", target, err)
	}
	hc, err := apiHTTPClient(s.TLSOptions, s.BearerToken)
	if err != nil {
		return fail("tls options: %w", err)
	}
	defer hc.CloseIdleConnections()
	statusURL, err := url.JoinPath(s.URL, "api/v2/status")
	if err != nil {
		return fail("url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statusURL, nil)
	if err != nil {
		return fail("url: %w", unwrapURLError(err))
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return fail("GET /api/v2/status: %w", ctxError(ctx, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, amMaxStatusBytes+1))
	obs.Latency = time.Since(start)
	if err != nil {
		return fail("GET /api/v2/status: read body: %w", ctxError(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		return fail("GET /api/v2/status: %s", resp.Status)
	}
	if len(body) > amMaxStatusBytes {
		return fail("GET /api/v2/status: body over %d bytes", amMaxStatusBytes)
	}
	var st amStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fail("GET /api/v2/status: not an Alertmanager status: %w", err)
	}
	obs.ClusterStatus = st.Cluster.Status
	obs.ClusterPeers = len(st.Cluster.Peers)
	obs.Version = st.VersionInfo.Version
	if !st.Uptime.IsZero() {
		obs.StartedAt = st.Uptime
		obs.Uptime = time.Since(st.Uptime).Truncate(time.Second)
	}
	if st.Config.Original == nil {
		return fail("GET /api/v2/status: no config.original in the answer")
	}
	cfg, err := config.Load(*st.Config.Original)
	if err != nil {
		// The error quotes YAML lines at most; Alertmanager already hides
		// secrets as <secret> in config.original.
		return fail("parse its configuration: %w", err)
	}
	if cfg.Route == nil {
		return fail("its configuration has no route")
	}

	obs.ReceiverTypes = make(map[string][]string, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		obs.ReceiverTypes[r.Name] = amIntegrationTypes(r)
	}
	obs.InhibitRules = len(cfg.InhibitRules)

	root := dispatch.NewRoute(cfg.Route, nil)
	root.Walk(func(*dispatch.Route) { obs.RoutesCount++ })

	obs.Labels = make(map[string]string, len(s.Labels))
	lset := make(model.LabelSet, len(s.Labels))
	for k, v := range s.Labels {
		obs.Labels[k] = v
		lset[model.LabelName(k)] = model.LabelValue(v)
	}
	obs.Receivers = []string{}
	obs.Routes = []AlertmanagerRoute{}
	for _, r := range root.Match(lset) {
		obs.Receivers = append(obs.Receivers, r.RouteOpts.Receiver)
		obs.Routes = append(obs.Routes, amRoute(r))
	}
	if len(obs.Receivers) > 0 {
		obs.Receiver = obs.Receivers[0]
	}
	env.logf("alertmanager %s: %s, %d routes; labels %v route to %v", target, obs.Version, obs.RoutesCount, s.Labels, obs.Receivers)
	return obs, nil
}

// amRoute describes a matched route, with the matchers of its parents.
func amRoute(r *dispatch.Route) AlertmanagerRoute {
	out := AlertmanagerRoute{
		Receiver:       r.RouteOpts.Receiver,
		Continue:       r.Continue,
		GroupWait:      r.RouteOpts.GroupWait,
		GroupInterval:  r.RouteOpts.GroupInterval,
		RepeatInterval: r.RouteOpts.RepeatInterval,
		Matchers:       []string{},
		GroupBy:        []string{},
		MuteTimes:      append([]string{}, r.RouteOpts.MuteTimeIntervals...),
		ActiveTimes:    append([]string{}, r.RouteOpts.ActiveTimeIntervals...),
	}
	for _, m := range r.Matchers {
		out.Matchers = append(out.Matchers, m.String())
	}
	if r.RouteOpts.GroupByAll {
		out.GroupBy = []string{"..."}
	} else {
		for ln := range r.RouteOpts.GroupBy {
			out.GroupBy = append(out.GroupBy, string(ln))
		}
		sort.Strings(out.GroupBy)
	}
	return out
}

// amIntegrationTypes lists the integration types a receiver configures,
// from its `<type>_configs` fields (so new integrations need no list here).
func amIntegrationTypes(r config.Receiver) []string {
	types := []string{}
	v := reflect.ValueOf(r)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		typ, ok := strings.CutSuffix(name, "_configs")
		if !ok || f.Type.Kind() != reflect.Slice || v.Field(i).Len() == 0 {
			continue
		}
		types = append(types, typ)
	}
	sort.Strings(types)
	return types
}
