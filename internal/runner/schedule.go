package runner

import (
	"container/heap"
	"context"
	"fmt"
	"strings"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/store"
)

// node is one checkpoint in a run's plan.
type node struct {
	cp         *checklist.Checkpoint
	pos        int     // place in the checklist: ready checkpoints start in this order
	prio       float64 // unless Options.Priority puts them in this one, highest first
	waiting    int     // dependencies not finished yet
	dependents []*node
	skip       string // why it will not run, "" to run
	skipKind   string // store.SkipDependency, SkipNotConfigured or SkipDisabled
}

// plan links the selected checkpoints by their dependencies. A dependency
// outside the selection counts as not passed.
func (r *runner) plan(cps []*checklist.Checkpoint) []*node {
	nodes := make([]*node, len(cps))
	for i, cp := range cps {
		n := &node{cp: cp, pos: r.position[cp.ID], prio: r.opts.Priority[cp.ID]}
		switch {
		case cp.Disabled != "":
			n.skip, n.skipKind = "disabled: "+cp.Disabled, store.SkipDisabled
		case len(cp.NotConfigured) > 0:
			n.skip, n.skipKind = cp.NotConfiguredReason(), store.SkipNotConfigured
		}
		nodes[i] = n
		r.nodes[cp.ID] = n
	}
	for _, n := range nodes {
		for _, dep := range n.cp.DependsOn {
			d, ok := r.nodes[dep]
			if !ok {
				if n.skip == "" {
					n.skip, n.skipKind = fmt.Sprintf("dependency %q is not part of this run", dep), store.SkipDependency
				}
				continue
			}
			n.waiting++
			d.dependents = append(d.dependents, n)
		}
	}
	return nodes
}

// schedule runs the plan: ready checkpoints start in checklist order, at
// most Concurrency probes at once; only running probes hold a goroutine. A
// checkpoint that runs alone (a load test) waits until nothing else runs or
// is ready, and nothing starts while it runs.
// Once ctx is done nothing new starts and unfinished work is not recorded.
func (r *runner) schedule(ctx context.Context, nodes []*node) {
	ready, alone := &nodeHeap{}, &nodeHeap{}
	for _, n := range nodes {
		if n.waiting == 0 {
			heap.Push(ready, n)
		}
	}
	type outcome struct {
		n   *node
		res store.Result
	}
	done := make(chan outcome)
	running := 0
	aloneRunning := false
	stopped := "" // fail-fast: the checkpoint whose failure stopped the run
	finish := func(n *node, res store.Result) {
		r.results <- res
		if r.opts.FailFast && stopped == "" && res.Blocks() && (res.Status == store.StatusFail || res.Status == store.StatusError) {
			stopped = n.cp.ID
		}
		for _, d := range n.dependents {
			// A shadow checkpoint stays out of the verdict, so it does not
			// gate its dependents either.
			if res.Status != store.StatusPass && res.Mode != checklist.ModeShadow && d.skip == "" {
				switch res.Skip {
				case store.SkipFailFast:
					d.skip, d.skipKind = res.Message, res.Skip
				case store.SkipNotConfigured, store.SkipDisabled:
					// Not running a check is not a failure: its dependents
					// are left out the same way.
					d.skip, d.skipKind = fmt.Sprintf("dependency %q is %s", n.cp.ID, strings.ReplaceAll(res.Skip, "_", " ")), res.Skip
				default:
					d.skip, d.skipKind = fmt.Sprintf("dependency %q is %s", n.cp.ID, res.Status), store.SkipDependency
				}
			}
			if d.waiting--; d.waiting == 0 {
				heap.Push(ready, d)
			}
		}
	}
	// stop marks n skipped when fail-fast has stopped the run.
	stop := func(n *node) {
		if stopped != "" && n.skip == "" {
			n.skip, n.skipKind = fmt.Sprintf("not run: --fail-fast stopped the run when %q failed", stopped), store.SkipFailFast
		}
	}
	start := func(n *node) {
		running++
		r.emit(Event{Type: EventStarted, Checkpoint: n.cp})
		go func() { done <- outcome{n, r.execute(ctx, n.cp)} }()
	}
	for {
		for ready.Len() > 0 && !aloneRunning && ctx.Err() == nil {
			n := (*ready)[0]
			stop(n)
			switch {
			case n.skip != "":
				heap.Pop(ready)
				finish(n, r.skipped(n.cp, n.skip, n.skipKind))
				continue
			case n.cp.Manual != nil:
				heap.Pop(ready)
				finish(n, r.pending(n.cp))
				continue
			case n.cp.Alone:
				heap.Push(alone, heap.Pop(ready))
				continue
			case running >= r.opts.Concurrency:
			default:
				heap.Pop(ready)
				start(n)
				continue
			}
			break
		}
		if running == 0 && ready.Len() == 0 && alone.Len() > 0 && ctx.Err() == nil {
			n := heap.Pop(alone).(*node)
			if stop(n); n.skip != "" {
				finish(n, r.skipped(n.cp, n.skip, n.skipKind))
			} else {
				start(n)
				aloneRunning = true
			}
			continue
		}
		if running == 0 {
			return
		}
		o := <-done
		running--
		aloneRunning = false // it ran by itself, so it is the one done
		if ctx.Err() != nil {
			continue // interrupted: an unfinished check is not a result
		}
		finish(o.n, o.res)
	}
}

// nodeHeap orders ready nodes by priority, highest first, then by
// checklist position.
type nodeHeap []*node

func (h nodeHeap) Len() int { return len(h) }
func (h nodeHeap) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].pos < h[j].pos
}
func (h nodeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)   { *h = append(*h, x.(*node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}
