// Package risk predicts the risk of a change or a deployment from its
// change metrics and evaluates that prediction honestly: on a time split,
// training on the past and testing on the future, never the other way.
//
// This first slice holds the evaluation harness and the baseline model:
//
//	data.go     the public change-data CSV format (Kamei's 14 metrics)
//	split.go    the time split: earliest fraction trains, the rest tests
//	lr.go       L2-regularised, class-weighted logistic regression on
//	            log1p-transformed, standardized metrics (Newton/IRLS)
//	platt.go    Platt scaling of the model's logits
//	metrics.go  ROC AUC, PR AUC, Brier, ECE, P/R/F1, caught-at
//	eval.go     the protocol that ties them together
//
// Calibration protocol: the logistic regression is trained on the first
// 80% (in time) of the training slice; Platt scaling and the decision
// threshold (the one maximising F1) are fitted on the last 20% of the
// training slice. The test slice is used only to report.
package risk
