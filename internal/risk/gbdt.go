package risk

import (
	"fmt"
	"math"
	"sort"
	"sync"
)

// GBDTOptions tune the gradient-boosted trees. The zero value uses the
// defaults.
type GBDTOptions struct {
	MaxDepth     int     // default 4
	LearningRate float64 // default 0.05
	MaxTrees     int     // default 400
	MinLeaf      int     // minimum training rows per leaf; default 20
	Lambda       float64 // L2 penalty on leaf values; default 1
	MaxBins      int     // quantile bins per feature, at most 255; default 64
	Balanced     bool    // weight the classes to balance (n/(2·n_class))
	// Patience stops boosting when the validation AUC has not improved for
	// this many trees; default 100. Ignored without validation rows.
	Patience int
	// Weights, when set, multiply each row's class weight (one per row).
	Weights []float64 `json:"-"`
}

func (o GBDTOptions) withDefaults() GBDTOptions {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 4
	}
	if o.LearningRate <= 0 {
		o.LearningRate = 0.05
	}
	if o.MaxTrees <= 0 {
		o.MaxTrees = 400
	}
	if o.MinLeaf <= 0 {
		o.MinLeaf = 20
	}
	if o.Lambda <= 0 {
		o.Lambda = 1
	}
	if o.MaxBins <= 1 || o.MaxBins > 255 {
		o.MaxBins = 64
	}
	if o.Patience <= 0 {
		o.Patience = 100
	}
	return o
}

// TreeNode is one node of a regression tree. An internal node sends a
// change left when log1p(max(0, x[Feature])) <= Threshold; a leaf has
// Feature −1 and its Value (already scaled by the learning rate). Cover is
// the number of training rows that reached the node: TreeSHAP weighs the
// paths a change does not take by it.
type TreeNode struct {
	Feature   int     `json:"f"`
	Threshold float64 `json:"t,omitempty"`
	Left      int32   `json:"l,omitempty"`
	Right     int32   `json:"r,omitempty"`
	Value     float64 `json:"v,omitempty"`
	Cover     float64 `json:"c"`

	bin uint8 // split bin during training: left when bin <= this
}

// Tree is a regression tree; node 0 is the root.
type Tree struct {
	Nodes []TreeNode `json:"nodes"`
}

// GBDT is an ensemble of regression trees boosted on the logistic loss,
// on log1p(max(0, x)) change metrics. Its logit is Base plus the sum of
// the trees' leaf values; SHAP splits it exactly into per-metric shares.
type GBDT struct {
	Features []string    `json:"features"`
	Base     float64     `json:"base"`
	Trees    []Tree      `json:"trees"`
	Options  GBDTOptions `json:"options"`
	ValAUC   float64     `json:"val_auc"` // AUC on the validation rows at the kept number of trees
}

// transform is the log1p feature transform of one change.
func transform(x *[NumFeatures]float64) (z [NumFeatures]float64) {
	for j := range z {
		z[j] = logFeature(x[j])
	}
	return z
}

func (t *Tree) leaf(z *[NumFeatures]float64) int {
	i := 0
	for t.Nodes[i].Feature >= 0 {
		n := &t.Nodes[i]
		if z[n.Feature] <= n.Threshold {
			i = int(n.Left)
		} else {
			i = int(n.Right)
		}
	}
	return i
}

// Logit is the model's log-odds for one change.
func (g *GBDT) Logit(x *[NumFeatures]float64) float64 {
	z := transform(x)
	s := g.Base
	for k := range g.Trees {
		t := &g.Trees[k]
		s += t.Nodes[t.leaf(&z)].Value
	}
	return s
}

// binner maps log-transformed metrics to quantile bins. Bin b of feature j
// holds the values <= edges[j][b] and above the previous edge; the last
// bin holds everything above the last edge.
type binner struct {
	edges [NumFeatures][]float64
}

func newBinner(rows []Row, maxBins int) *binner {
	b := &binner{}
	v := make([]float64, len(rows))
	for j := 0; j < NumFeatures; j++ {
		for i := range rows {
			v[i] = logFeature(rows[i].X[j])
		}
		sort.Float64s(v)
		var edges []float64
		n := len(v)
		for q := 1; q < maxBins; q++ {
			k := q * n / maxBins
			if k <= 0 || k >= n {
				continue
			}
			c := v[k-1]
			// The edge lies halfway to the next larger value; none: no edge.
			u := sort.Search(n, func(i int) bool { return v[i] > c })
			if u >= n {
				continue
			}
			e := c + (v[u]-c)/2
			if len(edges) > 0 && e <= edges[len(edges)-1] {
				continue
			}
			edges = append(edges, e)
		}
		b.edges[j] = edges
	}
	return b
}

// bin returns the row-major bins of the rows: row i's metric j is at
// i·NumFeatures+j.
func (b *binner) bin(rows []Row) []uint8 {
	out := make([]uint8, len(rows)*NumFeatures)
	for i := range rows {
		for j := 0; j < NumFeatures; j++ {
			out[i*NumFeatures+j] = uint8(sort.SearchFloat64s(b.edges[j], logFeature(rows[i].X[j])))
		}
	}
	return out
}

type histBin struct{ g, h, n float64 }

// hist holds a node's gradient statistics: bin b of metric j at j·stride+b.
type hist []histBin

type gbdtTrainer struct {
	opt    GBDTOptions
	bins   []uint8
	stride int
	nbins  [NumFeatures]int
	edges  *binner
	g, h   []float64
	pool   []*hist
}

func (tr *gbdtTrainer) getHist() *hist {
	if n := len(tr.pool); n > 0 {
		h := tr.pool[n-1]
		tr.pool = tr.pool[:n-1]
		clear(*h)
		return h
	}
	h := make(hist, NumFeatures*tr.stride)
	return &h
}

func (tr *gbdtTrainer) putHist(h *hist) { tr.pool = append(tr.pool, h) }

// parallelFill is the node size from which fill splits its rows in two
// halves filled side by side and added: deterministic, since the split
// does not depend on the number of cores.
const parallelFill = 16384

// halves runs work on [0, n/2) and [n/2, n) side by side when n is at
// least parallelFill, else on [0, n).
func halves(n int, work func(lo, hi int)) {
	if n < parallelFill {
		work(0, n)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(n/2, n)
	}()
	work(0, n/2)
	<-done
}

func (tr *gbdtTrainer) fill(hp *hist, idx []int32) {
	if len(idx) < parallelFill {
		tr.fillSeq(hp, idx)
		return
	}
	h2 := tr.getHist() // taken before the halves run: the pool is not shared
	halves(len(idx), func(lo, hi int) {
		if lo == 0 {
			tr.fillSeq(hp, idx[:hi])
		} else {
			tr.fillSeq(h2, idx[lo:hi])
		}
	})
	h := *hp
	for k, e := range *h2 {
		h[k].g += e.g
		h[k].h += e.h
		h[k].n += e.n
	}
	tr.putHist(h2)
}

func (tr *gbdtTrainer) fillSeq(hp *hist, idx []int32) {
	h, st := *hp, tr.stride
	for _, i := range idx {
		g, hh := tr.g[i], tr.h[i]
		row := tr.bins[int(i)*NumFeatures : int(i)*NumFeatures+NumFeatures]
		for j, b := range row {
			e := &h[j*st+int(b)]
			e.g += g
			e.h += hh
			e.n++
		}
	}
}

// grow builds the subtree of the rows idx (whose histogram is h, owned by
// the callee) and returns its node index. Leaves record their row ranges
// so that the caller can update the scores without re-walking the tree.
func (tr *gbdtTrainer) grow(t *Tree, idx []int32, hp *hist, depth int, leafOf []int32) int32 {
	h, st := *hp, tr.stride
	var G, H float64
	for b := 0; b < tr.nbins[0]; b++ {
		G += h[b].g
		H += h[b].h
	}
	lam := tr.opt.Lambda
	me := int32(len(t.Nodes))
	t.Nodes = append(t.Nodes, TreeNode{Feature: -1, Cover: float64(len(idx))})
	leaf := func() int32 {
		t.Nodes[me].Value = -G / (H + lam) * tr.opt.LearningRate
		for _, i := range idx {
			leafOf[i] = me
		}
		tr.putHist(hp)
		return me
	}
	if depth >= tr.opt.MaxDepth || len(idx) < 2*tr.opt.MinLeaf {
		return leaf()
	}
	parent := G * G / (H + lam)
	bestGain, bestF, bestB := 1e-12, -1, 0
	minLeaf := float64(tr.opt.MinLeaf)
	for j := 0; j < NumFeatures; j++ {
		var gl, hl, nl float64
		for b := 0; b < tr.nbins[j]-1; b++ {
			hb := &h[j*st+b]
			gl += hb.g
			hl += hb.h
			nl += hb.n
			if nl < minLeaf {
				continue
			}
			if float64(len(idx))-nl < minLeaf {
				break
			}
			gr, hr := G-gl, H-hl
			gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent
			if gain > bestGain {
				bestGain, bestF, bestB = gain, j, b
			}
		}
	}
	if bestF < 0 {
		return leaf()
	}
	// Partition idx in place, stably enough to be deterministic.
	k := 0
	for i := range idx {
		if tr.bins[int(idx[i])*NumFeatures+bestF] <= uint8(bestB) {
			idx[k], idx[i] = idx[i], idx[k]
			k++
		}
	}
	left, right := idx[:k], idx[k:]
	// The smaller child's histogram is filled; the larger's is h minus it.
	hs := tr.getHist()
	small, hl, hr := left, hs, hp
	if len(right) < len(left) {
		small, hl, hr = right, hp, hs
	}
	tr.fill(hs, small)
	for k, e := range *hs { // h becomes the larger child's
		h[k].g -= e.g
		h[k].h -= e.h
		h[k].n -= e.n
	}
	t.Nodes[me].Feature = bestF
	t.Nodes[me].Threshold = tr.edges.edges[bestF][bestB]
	t.Nodes[me].bin = uint8(bestB)
	l := tr.grow(t, left, hl, depth+1, leafOf)
	r := tr.grow(t, right, hr, depth+1, leafOf)
	t.Nodes[me].Left, t.Nodes[me].Right = l, r
	return me
}

// TrainGBDT boosts trees on the rows. With validation rows it keeps the
// number of trees that maximised the validation AUC (early stopping); the
// validation rows never fit a tree. Deterministic: no sampling.
func TrainGBDT(rows, val []Row, opt GBDTOptions) (*GBDT, error) {
	opt = opt.withDefaults()
	n := len(rows)
	pos := positives(rows)
	if pos == 0 || pos == n {
		return nil, fmt.Errorf("gradient boosting: %d rows with %d positives: want both classes", n, pos)
	}
	bn := newBinner(rows, opt.MaxBins)
	tr := &gbdtTrainer{opt: opt, edges: bn, bins: bn.bin(rows), stride: opt.MaxBins, g: make([]float64, n), h: make([]float64, n)}
	for j := range tr.nbins {
		tr.nbins[j] = len(bn.edges[j]) + 1
	}
	y := make([]float64, n)
	w := make([]float64, n)
	wPos, wNeg := 1.0, 1.0
	if opt.Balanced {
		wPos, wNeg = float64(n)/(2*float64(pos)), float64(n)/(2*float64(n-pos))
	}
	var sp, sn float64
	for i := range rows {
		if rows[i].Label {
			y[i], w[i] = 1, wPos
		} else {
			w[i] = wNeg
		}
		if opt.Weights != nil {
			w[i] *= opt.Weights[i]
		}
		if rows[i].Label {
			sp += w[i]
		} else {
			sn += w[i]
		}
	}
	m := &GBDT{Features: FeatureNames(), Base: math.Log(sp / sn), Options: opt}
	f := make([]float64, n)
	for i := range f {
		f[i] = m.Base
	}
	var vbins []uint8
	vf := make([]float64, len(val))
	vlab := make([]bool, len(val))
	if len(val) > 0 {
		vbins = bn.bin(val)
		for i := range val {
			vf[i] = m.Base
			vlab[i] = val[i].Label
		}
	}
	validate := len(val) > 0 && positives(val) > 0 && positives(val) < len(val)
	best, bestAUC := 0, math.Inf(-1)
	idx := make([]int32, n)
	leafOf := make([]int32, n)
	for it := 0; it < opt.MaxTrees; it++ {
		halves(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				p := sigmoid(f[i])
				tr.g[i] = w[i] * (p - y[i])
				tr.h[i] = w[i] * p * (1 - p)
			}
		})
		for i := range idx {
			idx[i] = int32(i)
		}
		h := tr.getHist()
		tr.fill(h, idx)
		t := Tree{}
		tr.grow(&t, idx, h, 0, leafOf)
		for i := range f {
			f[i] += t.Nodes[leafOf[i]].Value
		}
		m.Trees = append(m.Trees, t)
		if !validate {
			continue
		}
		for i := range vf {
			k := 0
			for t.Nodes[k].Feature >= 0 {
				nd := &t.Nodes[k]
				if vbins[i*NumFeatures+nd.Feature] <= nd.bin {
					k = int(nd.Left)
				} else {
					k = int(nd.Right)
				}
			}
			vf[i] += t.Nodes[k].Value
		}
		// The validation AUC every valEvery trees and at the last.
		if (it+1)%valEvery != 0 && it+1 != opt.MaxTrees {
			continue
		}
		if auc := AUC(vf, vlab); auc > bestAUC {
			best, bestAUC = it+1, auc
		} else if it+1-best >= opt.Patience {
			break
		}
	}
	if validate {
		m.Trees = m.Trees[:best]
		m.ValAUC = bestAUC
	}
	return m, nil
}

// valEvery is how often, in trees, early stopping measures the validation
// AUC; the number of trees kept is a multiple of it (or MaxTrees).
const valEvery = 10

// gbdtGrid are the configurations tried; the one with the best AUC on the
// validation (calibration) slice wins. Earlier entries win ties.
// Class weighting moved the calibration AUC of the four public projects
// by under .005 at depth 4 and 5, so it is tried at depth 3 only, which
// keeps training on 100,000 rows under 10 s on 2 cores.
var gbdtGrid = []GBDTOptions{
	{MaxDepth: 3},
	{MaxDepth: 4},
	{MaxDepth: 5},
	{MaxDepth: 3, Balanced: true},
}

// TrainGBDTSelect trains every configuration of the grid (two at a time)
// with early stopping on val and returns the one with the best validation
// AUC. The result does not depend on scheduling.
func TrainGBDTSelect(rows, val []Row) (*GBDT, error) {
	models := make([]*GBDT, len(gbdtGrid))
	errs := make([]error, len(gbdtGrid))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for k := range gbdtGrid {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			models[k], errs[k] = TrainGBDT(rows, val, gbdtGrid[k])
		}()
	}
	wg.Wait()
	var best *GBDT
	for k, m := range models {
		if errs[k] != nil {
			return nil, errs[k]
		}
		if best == nil || m.ValAUC > best.ValAUC {
			best = m
		}
	}
	return best, nil
}

// ExpectedValue is the mean logit over the training rows: Base plus each
// tree's cover-weighted mean leaf value. SHAP values sum to Logit(x) minus
// it.
func (g *GBDT) ExpectedValue() float64 {
	s := g.Base
	for k := range g.Trees {
		s += g.Trees[k].expected(0)
	}
	return s
}

func (t *Tree) expected(i int) float64 {
	n := &t.Nodes[i]
	if n.Feature < 0 {
		return n.Value
	}
	l, r := &t.Nodes[n.Left], &t.Nodes[n.Right]
	return (l.Cover*t.expected(int(n.Left)) + r.Cover*t.expected(int(n.Right))) / n.Cover
}

// SHAP returns each metric's exact Shapley value of the logit for x
// (Lundberg et al., "Consistent individualized feature attribution for
// tree ensembles", 2018, Algorithm 2: polynomial-time TreeSHAP with the
// path-dependent, cover-weighted conditional expectation). They sum to
// Logit(x) − ExpectedValue().
func (g *GBDT) SHAP(x *[NumFeatures]float64) []float64 {
	phi := make([]float64, NumFeatures)
	z := transform(x)
	maxd := 0
	for k := range g.Trees {
		if d := g.Trees[k].depth(0); d > maxd {
			maxd = d
		}
	}
	buf := make([]pathElem, (maxd+2)*(maxd+3)/2)
	for k := range g.Trees {
		g.Trees[k].shap(&z, phi, buf)
	}
	return phi
}

func (t *Tree) depth(i int) int {
	n := &t.Nodes[i]
	if n.Feature < 0 {
		return 0
	}
	return 1 + max(t.depth(int(n.Left)), t.depth(int(n.Right)))
}

// shap adds the tree's Shapley values for z to phi. buf must hold
// (D+2)(D+3)/2 elements for the tree's depth D.
func (t *Tree) shap(z *[NumFeatures]float64, phi []float64, buf []pathElem) {
	t.shapRec(z, phi, 0, buf, 0, 1, 1, -1)
}

type pathElem struct {
	feature   int
	zero, one float64 // fraction of zero (cover) and one (x's) paths that flow through
	w         float64 // permutation weight
}

func (t *Tree) shapRec(z *[NumFeatures]float64, phi []float64, node int, parent []pathElem, depth int, pz, po float64, pf int) {
	// The path of this node lives right after the parent's in buf.
	path := parent[depth:]
	if depth > 0 {
		copy(path[:depth], parent[:depth])
	}
	extendPath(path, depth, pz, po, pf)
	n := &t.Nodes[node]
	if n.Feature < 0 {
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			e := &path[i]
			phi[e.feature] += w * (e.one - e.zero) * n.Value
		}
		return
	}
	hot, cold := int(n.Left), int(n.Right)
	if z[n.Feature] > n.Threshold {
		hot, cold = cold, hot
	}
	iz, io := 1.0, 1.0
	k := 0
	for ; k <= depth; k++ {
		if path[k].feature == n.Feature {
			break
		}
	}
	if k <= depth {
		iz, io = path[k].zero, path[k].one
		unwindPath(path, depth, k)
		depth--
	}
	hz := t.Nodes[hot].Cover / n.Cover
	cz := t.Nodes[cold].Cover / n.Cover
	t.shapRec(z, phi, hot, path, depth+1, hz*iz, io, n.Feature)
	t.shapRec(z, phi, cold, path, depth+1, cz*iz, 0, n.Feature)
}

func extendPath(p []pathElem, d int, pz, po float64, pf int) {
	p[d] = pathElem{feature: pf, zero: pz, one: po}
	if d == 0 {
		p[d].w = 1
	}
	for i := d - 1; i >= 0; i-- {
		p[i+1].w += po * p[i].w * float64(i+1) / float64(d+1)
		p[i].w = pz * p[i].w * float64(d-i) / float64(d+1)
	}
}

func unwindPath(p []pathElem, d, k int) {
	one, zero := p[k].one, p[k].zero
	next := p[d].w
	for i := d - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].w
			p[i].w = next * float64(d+1) / (float64(i+1) * one)
			next = tmp - p[i].w*zero*float64(d-i)/float64(d+1)
		} else {
			p[i].w = p[i].w * float64(d+1) / (zero * float64(d-i))
		}
	}
	for i := k; i < d; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
}

func unwoundPathSum(p []pathElem, d, k int) float64 {
	one, zero := p[k].one, p[k].zero
	next := p[d].w
	total := 0.0
	switch {
	case one != 0:
		for i := d - 1; i >= 0; i-- {
			tmp := next / (float64(i+1) * one)
			total += tmp
			next = p[i].w - tmp*zero*float64(d-i)
		}
	case zero != 0:
		for i := d - 1; i >= 0; i-- {
			total += p[i].w / (zero * float64(d-i))
		}
	}
	return total * float64(d+1)
}
