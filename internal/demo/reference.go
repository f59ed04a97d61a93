package demo

import (
	_ "embed"
	"strings"
)

// The reference system's monitoring configuration: the Prometheus alerting
// rules and the Alertmanager routing that the built-in catalogue's
// monitoring (§4.1) and rollback (§8.1) checkpoints expect, so that a
// Prometheus and an Alertmanager started with them pass those checks.
var (
	//go:embed reference/prometheus-rules.yml
	prometheusRules string
	//go:embed reference/alertmanager.yml
	alertmanagerConfig string
)

// PrometheusRules is the content of the reference Prometheus rule file
// (rule_files): every alert the catalogue looks for, with the document's
// thresholds, severities and the catalogue's default alert names.
func PrometheusRules() string { return prometheusRules }

// AlertmanagerConfig is the reference alertmanager.yml, its receivers'
// PagerDuty, Slack and webhook URLs under webhookBase (e.g.
// http://127.0.0.1:PORT, no trailing slash): a local sink stands in for
// PagerDuty, Slack and the dead man's switch service.
func AlertmanagerConfig(webhookBase string) string {
	return strings.ReplaceAll(alertmanagerConfig, "__WEBHOOK_BASE__", strings.TrimSuffix(webhookBase, "/"))
}
