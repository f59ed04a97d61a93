package change

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIDSet(t *testing.T) {
	var s idSet
	for _, v := range []int32{5, 1, 9, 5, -3, 3} {
		s.add(v)
	}
	if want := []int32{1, 3, 5, 9}; !slices.Equal(s.ids, want) || s.bits != nil {
		t.Fatalf("ids %v bits %v, want %v and sparse", s.ids, s.bits, want)
	}
	for v := int32(10); v < 10+denseMin; v++ {
		s.add(v)
	}
	if s.bits == nil {
		t.Fatalf("%d ids up to %d are sparse, want dense", len(s.ids), s.ids[len(s.ids)-1])
	}
	for _, v := range s.ids {
		if in, _ := s.search(v, 0); !in {
			t.Errorf("dense set lacks %d", v)
		}
	}
	if in, _ := s.search(2, 0); in {
		t.Error("dense set holds 2")
	}
	s.add(int32((len(s.ids) + 1) * 2 * denseRatio))
	if s.bits != nil {
		t.Errorf("a set whose density halved is still dense")
	}
}

// TestUnionSize checks unionSize against a map on random sets, sparse,
// dense and mixed, with the largest either.
func TestUnionSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := newComputer()
	const universe = 5000
	seen := make([]int32, universe)
	for round := range int32(300) {
		sets := make([]*idSet, rng.IntN(5))
		want := make(map[int32]bool)
		for k := range sets {
			s := new(idSet)
			n, span := rng.IntN(400), 1+rng.IntN(universe)
			for range n {
				v := int32(rng.IntN(span))
				s.add(v)
				want[v] = true
			}
			sets[k] = s
		}
		if got := c.unionSize(sets, seen, round+1); got != len(want) {
			t.Fatalf("round %d: union of %d sets = %d, want %d", round, len(sets), got, len(want))
		}
	}
}
