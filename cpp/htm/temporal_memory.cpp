// Temporal memory: column activation (predicted columns, bursting, punishing wrong predictions),
// segment learning (adaptation, growth, segment/synapse limits), dendrite activation, and the
// compact saved state.
#include "temporal_memory.h"

#include <algorithm>

#include "../core/check.h"

namespace lamina::htm {

namespace {
constexpr float kEpsilon = 1e-5f;  // permanences below this destroy the synapse; threshold slack
}

void TemporalMemory::check_params() const {
    LAMINA_CHECK(p_.num_columns > 0, "TemporalMemory: column_dimensions must give at least one "
                 "column, got ", p_.num_columns);
    LAMINA_CHECK(p_.cells_per_column > 0, "TemporalMemory: cells_per_column must be > 0, got ",
                 p_.cells_per_column);
    LAMINA_CHECK(p_.num_columns * p_.cells_per_column < (int64_t(1) << 31),
                 "TemporalMemory: ", p_.num_columns, " columns x ", p_.cells_per_column,
                 " cells is too many cells");
    LAMINA_CHECK(p_.activation_threshold >= 1 && p_.min_threshold >= 1,
                 "TemporalMemory: activation_threshold and min_threshold must be >= 1, got ",
                 p_.activation_threshold, " and ", p_.min_threshold);
    LAMINA_CHECK(p_.max_new_synapse_count >= 1, "TemporalMemory: max_new_synapse_count must be >= 1, "
                 "got ", p_.max_new_synapse_count);
    for (double v : {p_.initial_permanence, p_.connected_permanence, p_.permanence_increment,
                     p_.permanence_decrement, p_.predicted_segment_decrement})
        LAMINA_CHECK(v >= 0 && v <= 1, "TemporalMemory: permanences, increments and decrements must "
                     "be in [0, 1], got ", v);
    LAMINA_CHECK(p_.max_segments_per_cell >= 1 && p_.max_synapses_per_segment >= 1,
                 "TemporalMemory: max_segments_per_cell and max_synapses_per_segment must be >= 1, got ",
                 p_.max_segments_per_cell, " and ", p_.max_synapses_per_segment);
}

TemporalMemory::TemporalMemory(const TemporalMemoryParams& p)
    : p_(p), conn_(0), rng_(p.seed) {
    check_params();
    conn_ = Connections(num_cells());
    prev_active_mask_.assign(num_cells(), 0);
    mark_.assign(num_cells(), 0);
}

void TemporalMemory::compute(const std::vector<int32_t>& cols, bool learn) {
    for (size_t i = 0; i < cols.size(); ++i) {
        LAMINA_CHECK_INDEX(cols[i] >= 0 && cols[i] < p_.num_columns, "TemporalMemory.compute: active "
                           "column ", cols[i], " is out of range for ", p_.num_columns, " columns");
        LAMINA_CHECK(i == 0 || cols[i] > cols[i - 1],
                     "TemporalMemory.compute: active columns must be sorted and unique");
    }
    // Raw anomaly: the fraction of active columns that no cell predicted.
    {
        size_t hits = 0, j = 0;
        for (int32_t c : cols) {
            while (j < active_segments_.size() && column_of(conn_.segment(active_segments_[j]).cell) < c) ++j;
            hits += j < active_segments_.size() && column_of(conn_.segment(active_segments_[j]).cell) == c;
        }
        anomaly_ = cols.empty() ? 0.0 : 1.0 - double(hits) / double(cols.size());
    }
    ++iteration_;
    prev_active_.swap(active_cells_);
    prev_winner_.swap(winner_cells_);
    active_cells_.clear();
    winner_cells_.clear();
    for (int32_t c : prev_active_) prev_active_mask_[c] = 1;

    const auto& act = active_segments_;
    const auto& mat = matching_segments_;
    size_t ia = 0, sa = 0, sm = 0;
    const int32_t none = INT32_MAX;
    auto col_at = [&](const std::vector<int32_t>& v, size_t k) {
        return k < v.size() ? column_of(conn_.segment(v[k]).cell) : none;
    };
    while (true) {
        const int32_t c = std::min({ia < cols.size() ? cols[ia] : none, col_at(act, sa), col_at(mat, sm)});
        if (c == none) break;
        size_t ea = sa, em = sm;
        while (col_at(act, ea) == c) ++ea;
        while (col_at(mat, em) == c) ++em;
        if (ia < cols.size() && cols[ia] == c) {
            if (ea > sa)
                activate_predicted_column(act.data() + sa, ea - sa, learn);
            else
                burst_column(c, mat.data() + sm, em - sm, learn);
            ++ia;
        } else if (learn && p_.predicted_segment_decrement > 0 && em > sm) {
            punish_predicted_column(mat.data() + sm, em - sm);
        }
        sa = ea;
        sm = em;
    }
    for (int32_t c : prev_active_) prev_active_mask_[c] = 0;
    activate_dendrites(learn);
}

void TemporalMemory::activate_predicted_column(const int32_t* segs, size_t n, bool learn) {
    for (size_t k = 0; k < n; ++k) {
        const int32_t seg = segs[k];
        const int32_t cell = conn_.segment(seg).cell;
        if (active_cells_.empty() || active_cells_.back() != cell) {
            active_cells_.push_back(cell);
            winner_cells_.push_back(cell);
        }
        if (!learn) continue;
        const int64_t grow = p_.max_new_synapse_count - num_potential_[seg];
        adapt_segment(seg, float(p_.permanence_increment), float(p_.permanence_decrement));
        if (grow > 0 && conn_.segment(seg).cell >= 0) grow_synapses(seg, grow);
    }
}

void TemporalMemory::burst_column(int32_t column, const int32_t* segs, size_t n, bool learn) {
    const int32_t first = column * static_cast<int32_t>(p_.cells_per_column);
    for (int32_t i = 0; i < p_.cells_per_column; ++i) active_cells_.push_back(first + i);
    if (n > 0) {  // learn on the best matching segment (most active potential synapses)
        int32_t best = segs[0];
        for (size_t k = 1; k < n; ++k)
            if (num_potential_[segs[k]] > num_potential_[best]) best = segs[k];
        winner_cells_.push_back(conn_.segment(best).cell);
        if (!learn) return;
        const int64_t grow = p_.max_new_synapse_count - num_potential_[best];
        adapt_segment(best, float(p_.permanence_increment), float(p_.permanence_decrement));
        if (grow > 0 && conn_.segment(best).cell >= 0) grow_synapses(best, grow);
        return;
    }
    const int32_t winner = least_used_cell(column);
    winner_cells_.push_back(winner);
    if (!learn || prev_winner_.empty()) return;
    const int64_t grow = std::min<int64_t>(p_.max_new_synapse_count, prev_winner_.size());
    grow_synapses(create_segment(winner), grow);
}

void TemporalMemory::punish_predicted_column(const int32_t* segs, size_t n) {
    for (size_t k = 0; k < n; ++k) adapt_segment(segs[k], -float(p_.predicted_segment_decrement), 0.f);
}

// Synapses from previously active cells gain inc, the others lose dec; a synapse that reaches 0
// is destroyed, and a segment left without synapses too.
void TemporalMemory::adapt_segment(int32_t seg, float inc, float dec) {
    const std::vector<int32_t> syns = conn_.segment(seg).synapses;
    for (int32_t syn : syns) {
        Synapse& s = conn_.synapse(syn);
        const float p = std::clamp(s.permanence + (prev_active_mask_[s.presyn] ? inc : -dec), 0.f, 1.f);
        if (p < kEpsilon)
            conn_.destroy_synapse(syn);
        else
            s.permanence = p;
    }
    if (conn_.segment(seg).synapses.empty()) conn_.destroy_segment(seg);
}

// Up to n new synapses to previous winner cells the segment does not reach yet, chosen at random;
// at the per-segment limit the weakest synapses make room.
void TemporalMemory::grow_synapses(int32_t seg, int64_t n) {
    for (int32_t syn : conn_.segment(seg).synapses) mark_[conn_.synapse(syn).presyn] = 1;
    std::vector<int32_t> cand;
    for (int32_t c : prev_winner_)
        if (!mark_[c]) cand.push_back(c);
    for (int32_t syn : conn_.segment(seg).synapses) mark_[conn_.synapse(syn).presyn] = 0;
    n = std::min<int64_t>({n, static_cast<int64_t>(cand.size()), p_.max_synapses_per_segment});
    if (n <= 0) return;
    int64_t overflow = static_cast<int64_t>(conn_.segment(seg).synapses.size()) + n -
                       p_.max_synapses_per_segment;
    while (overflow-- > 0) {
        const auto& syns = conn_.segment(seg).synapses;
        int32_t weakest = syns[0];
        for (int32_t syn : syns)
            if (conn_.synapse(syn).permanence < conn_.synapse(weakest).permanence) weakest = syn;
        conn_.destroy_synapse(weakest);
    }
    rng_.partial_shuffle(cand, static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) conn_.create_synapse(seg, cand[k], float(p_.initial_permanence));
}

// At the per-cell limit the least recently used segment (earliest on ties) makes room.
int32_t TemporalMemory::create_segment(int32_t cell) {
    while (static_cast<int64_t>(conn_.segments_of(cell).size()) >= p_.max_segments_per_cell) {
        const auto& segs = conn_.segments_of(cell);
        int32_t lru = segs[0];
        for (int32_t s : segs)
            if (conn_.segment(s).last_used < conn_.segment(lru).last_used) lru = s;
        conn_.destroy_segment(lru);
    }
    return conn_.create_segment(cell, iteration_);
}

// The cell with the fewest segments, a random one among ties.
int32_t TemporalMemory::least_used_cell(int32_t column) {
    const int32_t first = column * static_cast<int32_t>(p_.cells_per_column);
    size_t fewest = SIZE_MAX;
    std::vector<int32_t> ties;
    for (int32_t i = 0; i < p_.cells_per_column; ++i) {
        const size_t k = conn_.segments_of(first + i).size();
        if (k < fewest) {
            fewest = k;
            ties.clear();
        }
        if (k == fewest) ties.push_back(first + i);
    }
    return ties[rng_.below(static_cast<uint32_t>(ties.size()))];
}

void TemporalMemory::activate_dendrites(bool learn) {
    for (int32_t seg : touched_) num_connected_[seg] = num_potential_[seg] = 0;
    touched_.clear();
    conn_.compute_activity(active_cells_, float(p_.connected_permanence) - kEpsilon, num_connected_,
                           num_potential_, touched_);
    active_segments_.clear();
    matching_segments_.clear();
    for (int32_t seg : touched_) {
        if (num_connected_[seg] >= p_.activation_threshold) active_segments_.push_back(seg);
        if (num_potential_[seg] >= p_.min_threshold) matching_segments_.push_back(seg);
    }
    auto less = [this](int32_t a, int32_t b) { return conn_.segment_less(a, b); };
    std::sort(active_segments_.begin(), active_segments_.end(), less);
    std::sort(matching_segments_.begin(), matching_segments_.end(), less);
    if (learn)
        for (int32_t seg : active_segments_) conn_.segment(seg).last_used = iteration_;
}

void TemporalMemory::reset() {
    active_cells_.clear();
    winner_cells_.clear();
    for (int32_t seg : touched_) num_connected_[seg] = num_potential_[seg] = 0;
    touched_.clear();
    active_segments_.clear();
    matching_segments_.clear();
}

std::vector<int32_t> TemporalMemory::predictive_cells() const {
    std::vector<int32_t> out;
    for (int32_t seg : active_segments_) {
        const int32_t cell = conn_.segment(seg).cell;
        if (out.empty() || out.back() != cell) out.push_back(cell);
    }
    return out;
}

size_t TemporalMemory::memory_bytes() const {
    return conn_.memory_bytes() + (num_connected_.capacity() + num_potential_.capacity() +
                                   touched_.capacity()) * sizeof(int32_t) +
           prev_active_mask_.capacity() + mark_.capacity();
}

TemporalMemoryState TemporalMemory::state() const {
    TemporalMemoryState s;
    for (int32_t cell = 0; cell < num_cells(); ++cell) {
        for (int32_t seg : conn_.segments_of(cell)) {
            const int32_t k = static_cast<int32_t>(s.segment_cell.size());
            s.segment_cell.push_back(cell);
            s.segment_last_used.push_back(conn_.segment(seg).last_used);
            for (int32_t syn : conn_.segment(seg).synapses) {
                s.synapse_segment.push_back(k);
                s.synapse_presyn.push_back(conn_.synapse(syn).presyn);
                s.synapse_permanence.push_back(conn_.synapse(syn).permanence);
            }
        }
    }
    s.active_cells = active_cells_;
    s.winner_cells = winner_cells_;
    s.iteration = iteration_;
    s.anomaly = anomaly_;
    s.rng = rng_.state();
    return s;
}

void TemporalMemory::set_state(const TemporalMemoryState& s) {
    const int64_t S = static_cast<int64_t>(s.segment_cell.size());
    const int64_t Y = static_cast<int64_t>(s.synapse_segment.size());
    const int32_t N = static_cast<int32_t>(num_cells());
    LAMINA_CHECK(static_cast<int64_t>(s.segment_last_used.size()) == S &&
                     static_cast<int64_t>(s.synapse_presyn.size()) == Y &&
                     static_cast<int64_t>(s.synapse_permanence.size()) == Y,
                 "TemporalMemory.set_state: segment arrays (", S, ", ", s.segment_last_used.size(),
                 ") or synapse arrays (", Y, ", ", s.synapse_presyn.size(), ", ",
                 s.synapse_permanence.size(), ") differ in length");
    for (int64_t k = 0; k < S; ++k)
        LAMINA_CHECK(s.segment_cell[k] >= 0 && s.segment_cell[k] < N &&
                         (k == 0 || s.segment_cell[k] >= s.segment_cell[k - 1]),
                     "TemporalMemory.set_state: segment cells must be sorted and < ", N);
    for (int64_t k = 0; k < Y; ++k)
        LAMINA_CHECK(s.synapse_segment[k] >= 0 && s.synapse_segment[k] < S &&
                         (k == 0 || s.synapse_segment[k] >= s.synapse_segment[k - 1]) &&
                         s.synapse_presyn[k] >= 0 && s.synapse_presyn[k] < N &&
                         s.synapse_permanence[k] >= 0.f && s.synapse_permanence[k] <= 1.f,
                     "TemporalMemory.set_state: synapse ", k, " is out of range");
    for (const auto* v : {&s.active_cells, &s.winner_cells})
        for (size_t k = 0; k < v->size(); ++k)
            LAMINA_CHECK((*v)[k] >= 0 && (*v)[k] < N && (k == 0 || (*v)[k] > (*v)[k - 1]),
                         "TemporalMemory.set_state: cell lists must be sorted, unique and < ", N);
    conn_ = Connections(N);
    std::vector<int32_t> ids(S);
    for (int64_t k = 0; k < S; ++k) ids[k] = conn_.create_segment(s.segment_cell[k], s.segment_last_used[k]);
    for (int64_t k = 0; k < Y; ++k)
        conn_.create_synapse(ids[s.synapse_segment[k]], s.synapse_presyn[k], s.synapse_permanence[k]);
    active_cells_ = s.active_cells;
    winner_cells_ = s.winner_cells;
    iteration_ = s.iteration;
    anomaly_ = s.anomaly;
    rng_.set_state(s.rng);
    num_connected_.clear();
    num_potential_.clear();
    touched_.clear();
    activate_dendrites(false);  // the segments the saved active cells make active and matching
}

}  // namespace lamina::htm
