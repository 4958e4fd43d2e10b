//! Union–find over `0..n`: which rows are one person, which profiles one customer.

/// Disjoint sets of the numbers `0..n`, with union by size and path halving.
pub(super) struct DisjointSets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl DisjointSets {
    /// `n` sets of one.
    pub fn new(n: usize) -> DisjointSets {
        DisjointSets {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The root of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grandparent = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grandparent;
            x = grandparent;
        }
        x
    }

    /// Joins the sets of `a` and `b`; `Some((root, absorbed))` with the root kept and
    /// the one that stopped being a root, `None` when they were one set already.
    pub fn union(&mut self, a: u32, b: u32) -> Option<(u32, u32)> {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return None;
        }
        let (root, absorbed) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[absorbed as usize] = root;
        self.size[root as usize] += self.size[absorbed as usize];
        Some((root, absorbed))
    }
}
