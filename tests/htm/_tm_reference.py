"""A plain-Python temporal memory written from BAMI's pseudo-code, with the same tie-breaking
rules and random stream (xoshiro256**) as lamina's C++ core, used to check the C++ bookkeeping
(free lists, reverse synapse map, limits) step by step. Slow; small networks only."""
import numpy as np

M64 = (1 << 64) - 1
F32 = np.float32


class Rng:
    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & M64
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        return ((self.next() >> 32) * n) >> 32

    def partial_shuffle(self, v, k):
        n = len(v)
        i = 0
        while i < k and i + 1 < n:
            j = i + self.below(n - i)
            v[i], v[j] = v[j], v[i]
            i += 1


class Segment:
    def __init__(self, cell, created, last_used):
        self.cell, self.created, self.last_used = cell, created, last_used
        self.syns = []  # [presyn, permanence], creation order
        self.alive = True


class ReferenceTM:
    def __init__(self, num_columns, cells_per_column, activation_threshold, initial_permanence,
                 connected_permanence, min_threshold, max_new_synapse_count, permanence_increment,
                 permanence_decrement, predicted_segment_decrement, max_segments_per_cell,
                 max_synapses_per_segment, seed):
        self.C, self.K = num_columns, cells_per_column
        self.act_thr, self.min_thr = activation_threshold, min_threshold
        self.init_perm = F32(initial_permanence)
        self.conn_thr = F32(F32(connected_permanence) - F32(1e-5))
        self.max_new = max_new_synapse_count
        self.inc, self.dec = F32(permanence_increment), F32(permanence_decrement)
        self.psd = F32(predicted_segment_decrement)
        self.max_seg, self.max_syn = max_segments_per_cell, max_synapses_per_segment
        self.rng = Rng(seed)
        self.cell_segs = [[] for _ in range(num_columns * cells_per_column)]
        self.created = 0
        self.iteration = 0
        self.active, self.winner = [], []
        self.active_segs, self.matching_segs = [], []
        self.npot = {}
        self.anomaly = 0.0

    # connections
    def _create_segment(self, cell):
        while len(self.cell_segs[cell]) >= self.max_seg:
            segs = self.cell_segs[cell]
            lru = segs[0]
            for s in segs:
                if s.last_used < lru.last_used:
                    lru = s
            self._destroy_segment(lru)
        seg = Segment(cell, self.created, self.iteration)
        self.created += 1
        self.cell_segs[cell].append(seg)
        return seg

    def _destroy_segment(self, seg):
        seg.alive = False
        seg.syns = []
        self.cell_segs[seg.cell].remove(seg)

    def _adapt(self, seg, prev_active, inc, dec):
        keep = []
        for syn in seg.syns:
            p = F32(syn[1] + (inc if syn[0] in prev_active else -dec))
            p = min(F32(1.0), max(F32(0.0), p))
            if p >= F32(1e-5):
                keep.append([syn[0], p])
        seg.syns = keep
        if not seg.syns:
            self._destroy_segment(seg)

    def _grow(self, seg, n, prev_winner):
        have = {s[0] for s in seg.syns}
        cand = [c for c in prev_winner if c not in have]
        n = min(n, len(cand), self.max_syn)
        if n <= 0:
            return
        overflow = len(seg.syns) + n - self.max_syn
        while overflow > 0:
            weakest = 0
            for i, s in enumerate(seg.syns):
                if s[1] < seg.syns[weakest][1]:
                    weakest = i
            del seg.syns[weakest]
            overflow -= 1
        self.rng.partial_shuffle(cand, n)
        for c in cand[:n]:
            seg.syns.append([c, self.init_perm])

    def _least_used_cell(self, col):
        counts = [len(self.cell_segs[col * self.K + i]) for i in range(self.K)]
        ties = [col * self.K + i for i in range(self.K) if counts[i] == min(counts)]
        return ties[self.rng.below(len(ties))]

    def compute(self, cols, learn):
        cols = sorted({int(c) for c in cols})
        predicted = {s.cell // self.K for s in self.active_segs}
        self.anomaly = 0.0 if not cols else 1.0 - sum(c in predicted for c in cols) / len(cols)
        self.iteration += 1
        prev_active, prev_winner = set(self.active), list(self.winner)
        self.active, self.winner = [], []
        by_col_act, by_col_mat = {}, {}
        for s in self.active_segs:
            by_col_act.setdefault(s.cell // self.K, []).append(s)
        for s in self.matching_segs:
            by_col_mat.setdefault(s.cell // self.K, []).append(s)
        active_cols = set(cols)
        for col in sorted(active_cols | set(by_col_act) | set(by_col_mat)):
            act, mat = by_col_act.get(col, []), by_col_mat.get(col, [])
            if col in active_cols:
                if act:
                    for seg in act:
                        if not self.active or self.active[-1] != seg.cell:
                            self.active.append(seg.cell)
                            self.winner.append(seg.cell)
                        if learn:
                            grow = self.max_new - self.npot[seg]
                            self._adapt(seg, prev_active, self.inc, self.dec)
                            if grow > 0 and seg.alive:
                                self._grow(seg, grow, prev_winner)
                else:
                    self.active.extend(range(col * self.K, (col + 1) * self.K))
                    if mat:
                        best = mat[0]
                        for s in mat[1:]:
                            if self.npot[s] > self.npot[best]:
                                best = s
                        self.winner.append(best.cell)
                        if learn:
                            grow = self.max_new - self.npot[best]
                            self._adapt(best, prev_active, self.inc, self.dec)
                            if grow > 0 and best.alive:
                                self._grow(best, grow, prev_winner)
                    else:
                        w = self._least_used_cell(col)
                        self.winner.append(w)
                        if learn and prev_winner:
                            grow = min(self.max_new, len(prev_winner))
                            self._grow(self._create_segment(w), grow, prev_winner)
            elif learn and self.psd > 0 and mat:
                for seg in mat:
                    self._adapt(seg, prev_active, -self.psd, F32(0.0))
        self._dendrites(learn)

    def _dendrites(self, learn):
        active = set(self.active)
        self.npot = {}
        self.active_segs, self.matching_segs = [], []
        for cell_list in self.cell_segs:
            for seg in cell_list:  # cell order, then creation order
                pot = sum(1 for p, _ in seg.syns if p in active)
                conn = sum(1 for p, q in seg.syns if p in active and q >= self.conn_thr)
                self.npot[seg] = pot
                if conn >= self.act_thr:
                    self.active_segs.append(seg)
                if pot >= self.min_thr:
                    self.matching_segs.append(seg)
        if learn:
            for seg in self.active_segs:
                seg.last_used = self.iteration

    def reset(self):
        self.active, self.winner, self.active_segs, self.matching_segs = [], [], [], []

    def predictive(self):
        return sorted({s.cell for s in self.active_segs})

    def synapses(self):
        """(segment_cell, synapse_segment, synapse_presyn, synapse_permanence) in saved order."""
        seg_cell, syn_seg, pre, perm = [], [], [], []
        for cell_list in self.cell_segs:
            for seg in cell_list:
                k = len(seg_cell)
                seg_cell.append(seg.cell)
                for p, q in seg.syns:
                    syn_seg.append(k)
                    pre.append(p)
                    perm.append(q)
        return (np.array(seg_cell, dtype=np.int32), np.array(syn_seg, dtype=np.int32),
                np.array(pre, dtype=np.int32), np.array(perm, dtype=np.float32))
