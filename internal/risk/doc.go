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
//	gbdt.go     gradient-boosted trees and exact TreeSHAP
//	history.go  experience metrics ranked against the project's recent
//	            history; recency weights
//	metrics.go  ROC AUC, PR AUC, Brier, ECE, P/R/F1, caught-at
//	eval.go     the protocol that ties them together, and the ensemble
//
// The ensemble (ens, PRF's model) adds the boosted trees to the logistic
// regression. Both see NDEV, AGE, NUC, EXP, REXP and SEXP as ranks among
// the project's previous 2,000 changes: those metrics grow with a
// project's age, and a threshold learnt on old values goes stale. The
// trees weigh recent changes more. Once early stopping and calibration
// are fitted, both models are refitted on every training row.
//
// Calibration protocol: the logistic regression is trained on the first
// 80% (in time) of the training slice; Platt scaling and the decision
// threshold (the one maximising F1) are fitted on the last 20% of the
// training slice. The test slice is used only to report.
package risk
