package change

import (
	"math/bits"
	"slices"
	"sort"
)

// A set turns dense, and keeps a bitset besides its ids, once it holds
// denseMin ids or more and one id in denseRatio or more of those up to its
// largest; it turns sparse again when that share halves. Its bitset thus
// takes at most two words an id, and a set is rebuilt as a bitset only
// after it has at least doubled.
const (
	denseMin   = 32
	denseRatio = 64
)

// idSet is a set of non-negative ids (commit indexes, author ids),
// ascending, with a bitset while dense: two dense sets unite word by word.
type idSet struct {
	ids  []int32
	bits []uint64 // nil while sparse
}

// add puts v into the set. Ids mostly come in ascending order; another
// is inserted in its place.
func (s *idSet) add(v int32) {
	if v < 0 {
		return
	}
	j, found := slices.BinarySearch(s.ids, v)
	if found {
		return
	}
	s.ids = slices.Insert(s.ids, j, v)
	n, last := len(s.ids), int(s.ids[len(s.ids)-1])
	switch {
	case s.bits != nil && n*2*denseRatio <= last:
		s.bits = nil
	case s.bits != nil:
		s.bits = setBit(s.bits, v)
	case n >= denseMin && n*denseRatio > last:
		s.bits = make([]uint64, 0, last/64+1)
		for _, id := range s.ids {
			s.bits = setBit(s.bits, id)
		}
	}
}

// search reports whether the set holds v, looking from ids[from] on when
// sparse, and returns where to look for a larger id next.
func (s *idSet) search(v int32, from int) (bool, int) {
	if s.bits != nil {
		return hasBit(s.bits, v), from
	}
	i := gallop(s.ids, from, v)
	return i < len(s.ids) && s.ids[i] == v, i
}

func setBit(words []uint64, v int32) []uint64 {
	for len(words) <= int(v)/64 {
		words = append(words, 0)
	}
	words[v/64] |= 1 << (v % 64)
	return words
}

func hasBit(words []uint64, v int32) bool {
	return v >= 0 && int(v)/64 < len(words) && words[v/64]&(1<<(v%64)) != 0
}

// gallop returns the first index at or after from where s (ascending)
// holds v or more: steps of 1, 2, 4, … then a binary search. Ids looked
// up in ascending order cost a merge when as many as s holds, a few
// searches when far fewer.
func gallop(s []int32, from int, v int32) int {
	if from >= len(s) || s[from] >= v {
		return from
	}
	lo, step := from, 1 // s[lo] < v
	for lo+step < len(s) && s[lo+step] < v {
		lo += step
		step *= 2
	}
	hi := min(lo+step, len(s))
	return lo + 1 + sort.Search(hi-lo-1, func(j int) bool { return s[lo+1+j] >= v })
}

// unionSize counts the distinct ids of sets: the largest set counts
// whole. The other dense sets are OR-ed word by word, less the largest
// when it is dense too; each id of the other sets counts once (seen[v] ==
// stamp marks it) unless the largest or a counted bitset holds it.
func (c *computer) unionSize(sets []*idSet, seen []int32, stamp int32) int {
	if len(sets) == 0 {
		return 0
	}
	big := 0
	for k, s := range sets {
		if len(s.ids) > len(sets[big].ids) {
			big = k
		}
	}
	largest := sets[big]
	n := len(largest.ids)
	words := c.words[:0] // the dense sets other than the largest, OR-ed
	wordWise := func(k int) bool { return k != big && sets[k].bits != nil && largest.bits != nil }
	for k, s := range sets {
		if !wordWise(k) {
			continue
		}
		for len(words) < len(s.bits) {
			words = append(words, 0)
		}
		for w, x := range s.bits {
			words[w] |= x
		}
	}
	for w, x := range words {
		if w < len(largest.bits) {
			x &^= largest.bits[w]
		}
		n += bits.OnesCount64(x)
	}
	c.words = words
	for k, s := range sets {
		if k == big || wordWise(k) {
			continue
		}
		pos := 0 // where the largest holds ids as large as the last one seen
		for _, v := range s.ids {
			var in bool
			if in, pos = largest.search(v, pos); in || hasBit(words, v) {
				continue
			}
			if v < 0 || int(v) >= len(seen) || seen[v] == stamp {
				continue
			}
			seen[v] = stamp
			n++
		}
	}
	return n
}
