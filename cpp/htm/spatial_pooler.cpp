// Spatial pooler: construction (potential pools, initial permanences), compute (overlap, boosting,
// global or local inhibition) and learning (Hebbian adaptation, duty cycles, weak-column bumping,
// boost factors, periodic inhibition-radius and minimum-duty-cycle updates).
#include "spatial_pooler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#include "../core/check.h"
#include "../core/parallel.h"
#include "topology.h"

namespace lamina::htm {

namespace {
int64_t prod(const std::vector<int64_t>& v) {
    int64_t n = 1;
    for (int64_t x : v) n *= x;
    return n;
}
}  // namespace

void SpatialPooler::check_params() const {
    const auto& in = p_.input_dimensions;
    const auto& col = p_.column_dimensions;
    LAMINA_CHECK(!in.empty() && !col.empty(), "SpatialPooler: input_dimensions and column_dimensions "
                 "must be non-empty, got input ", dims_str(in), " and columns ", dims_str(col));
    LAMINA_CHECK(in.size() == col.size(), "SpatialPooler: input_dimensions ", dims_str(in), " (",
                 in.size(), "-d) and column_dimensions ", dims_str(col), " (", col.size(),
                 "-d) must have the same number of dimensions");
    LAMINA_CHECK(in.size() <= 16, "SpatialPooler: at most 16 dimensions, got ", in.size());
    for (size_t d = 0; d < in.size(); ++d)
        LAMINA_CHECK(in[d] > 0 && col[d] > 0, "SpatialPooler: dimensions must be positive, got input ",
                     dims_str(in), " and columns ", dims_str(col));
    LAMINA_CHECK(prod(in) < (int64_t(1) << 31) && prod(col) < (int64_t(1) << 31) &&
                     prod(in) * prod(col) < (int64_t(1) << 40),
                 "SpatialPooler: input ", dims_str(in), " x columns ", dims_str(col), " is too large");
    LAMINA_CHECK(p_.potential_radius >= 0, "SpatialPooler: potential_radius must be >= 0, got ",
                 p_.potential_radius);
    LAMINA_CHECK(p_.potential_pct > 0 && p_.potential_pct <= 1,
                 "SpatialPooler: potential_pct must be in (0, 1], got ", p_.potential_pct);
    LAMINA_CHECK(p_.local_area_density > 0 && p_.local_area_density < 1,
                 "SpatialPooler: local_area_density must be in (0, 1), got ", p_.local_area_density);
    LAMINA_CHECK(p_.stimulus_threshold >= 0, "SpatialPooler: stimulus_threshold must be >= 0, got ",
                 p_.stimulus_threshold);
    LAMINA_CHECK(p_.syn_perm_connected > 0 && p_.syn_perm_connected < 1,
                 "SpatialPooler: syn_perm_connected must be in (0, 1), got ", p_.syn_perm_connected);
    LAMINA_CHECK(p_.syn_perm_active_inc >= 0 && p_.syn_perm_active_inc <= 1 &&
                     p_.syn_perm_inactive_dec >= 0 && p_.syn_perm_inactive_dec <= 1,
                 "SpatialPooler: syn_perm_active_inc and syn_perm_inactive_dec must be in [0, 1], got ",
                 p_.syn_perm_active_inc, " and ", p_.syn_perm_inactive_dec);
    LAMINA_CHECK(p_.min_pct_overlap_duty_cycle >= 0 && p_.min_pct_overlap_duty_cycle <= 1,
                 "SpatialPooler: min_pct_overlap_duty_cycle must be in [0, 1], got ",
                 p_.min_pct_overlap_duty_cycle);
    LAMINA_CHECK(p_.duty_cycle_period >= 1, "SpatialPooler: duty_cycle_period must be >= 1, got ",
                 p_.duty_cycle_period);
    LAMINA_CHECK(p_.boost_strength >= 0, "SpatialPooler: boost_strength must be >= 0, got ",
                 p_.boost_strength);
    LAMINA_CHECK(p_.update_period >= 1, "SpatialPooler: update_period must be >= 1, got ",
                 p_.update_period);
}

SpatialPooler::SpatialPooler(const SpatialPoolerParams& p) : p_(p), rng_(p.seed) {
    check_params();
    I_ = prod(p_.input_dimensions);
    C_ = prod(p_.column_dimensions);
    s_.permanences.assign(static_cast<size_t>(C_ * I_), 0.f);
    s_.potential.assign(static_cast<size_t>(C_ * I_), 0);
    s_.overlap_duty.assign(C_, 0.f);
    s_.active_duty.assign(C_, 0.f);
    s_.min_overlap_duty.assign(C_, 0.f);
    s_.boost.assign(C_, 1.f);
    s_.tie_break.resize(C_);
    pool_.resize(C_);
    overlaps_.assign(C_, 0);
    boosted_.assign(C_, 0.f);
    connected_t_.assign(static_cast<size_t>(I_ * C_), 0);
    delta_.assign(I_, 0.f);
    for (int64_t c = 0; c < C_; ++c) init_column(c);
    rebuild_connected();
    // Tiny fixed offsets (< 0.01 of one synapse) so equal overlaps resolve the same way every
    // time without favouring low column indices.
    for (int64_t c = 0; c < C_; ++c) s_.tie_break[c] = static_cast<float>(0.001 * rng_.uniform());
    update_inhibition_radius();
    s_.rng = rng_.state();
}

std::vector<int64_t> SpatialPooler::map_column(int64_t c) const {
    std::vector<int64_t> cc, center(p_.input_dimensions.size());
    unflatten(c, p_.column_dimensions, cc);
    for (size_t d = 0; d < cc.size(); ++d) {
        const double ratio = double(p_.input_dimensions[d]) / double(p_.column_dimensions[d]);
        center[d] = std::min<int64_t>(p_.input_dimensions[d] - 1,
                                      static_cast<int64_t>((cc[d] + 0.5) * ratio));
    }
    return center;
}

void SpatialPooler::init_column(int64_t c) {
    std::vector<int32_t> hood;
    const int64_t r = std::min<int64_t>(p_.potential_radius, I_);
    for_each_neighbor(map_column(c), p_.input_dimensions, r, p_.wrap_around,
                      [&](int64_t i) { hood.push_back(static_cast<int32_t>(i)); });
    const size_t n = std::max<size_t>(1, static_cast<size_t>(std::lround(hood.size() * p_.potential_pct)));
    rng_.partial_shuffle(hood, n);
    hood.resize(std::min(n, hood.size()));
    std::sort(hood.begin(), hood.end());
    float* perm = &s_.permanences[c * I_];
    uint8_t* pot = &s_.potential[c * I_];
    const double thr = p_.syn_perm_connected;
    for (int32_t i : hood) {
        pot[i] = 1;
        // Half the pool starts connected, just above the threshold (within one increment), the
        // rest below it, so a few coincident inputs are enough to connect or disconnect a synapse.
        const double u = rng_.uniform();
        double v = rng_.uniform() < 0.5 ? thr + u * p_.syn_perm_active_inc : thr * u;
        perm[i] = static_cast<float>(std::min(1.0, v));
    }
    pool_[c] = std::move(hood);
    raise_to_threshold(c);
}

// perm[c, i] = clamp(perm[c, i] + delta(i), 0, 1) over the column's pool, updating the
// transposed connected map only where a synapse crosses the threshold (rare).
template <class F>
void SpatialPooler::update_pool(int64_t c, const F& delta) {
    float* perm = &s_.permanences[c * I_];
    const float thr = static_cast<float>(p_.syn_perm_connected);
    for (int32_t i : pool_[c]) {
        const float old = perm[i];
        const float v = std::clamp(old + delta(i), 0.f, 1.f);
        perm[i] = v;
        if ((old >= thr) != (v >= thr)) connected_t_[int64_t(i) * C_ + c] = v >= thr;
    }
}

void SpatialPooler::rebuild_connected() {
    connected_t_.assign(static_cast<size_t>(I_ * C_), 0);
    const float thr = static_cast<float>(p_.syn_perm_connected);
    for (int64_t c = 0; c < C_; ++c)
        for (int32_t i : pool_[c]) connected_t_[int64_t(i) * C_ + c] = s_.permanences[c * I_ + i] >= thr;
}

// Each column keeps at least stimulus_threshold connected synapses (or its whole pool), so no
// column goes permanently silent.
void SpatialPooler::raise_to_threshold(int64_t c) {
    if (p_.stimulus_threshold <= 0) return;
    float* perm = &s_.permanences[c * I_];
    const float thr = static_cast<float>(p_.syn_perm_connected);
    const float bump = thr / 10.f;
    const int64_t need = std::min<int64_t>(p_.stimulus_threshold, static_cast<int64_t>(pool_[c].size()));
    while (true) {
        int64_t n = 0;
        for (int32_t i : pool_[c]) n += perm[i] >= thr;
        if (n >= need) return;
        update_pool(c, [bump](int32_t) { return bump; });
    }
}

std::vector<int32_t> SpatialPooler::connected_counts() const {
    std::vector<int32_t> out(C_, 0);
    const float thr = static_cast<float>(p_.syn_perm_connected);
    for (int64_t c = 0; c < C_; ++c)
        for (int32_t i : pool_[c]) out[c] += s_.permanences[c * I_ + i] >= thr;
    return out;
}

void SpatialPooler::calc_overlaps(const std::vector<int32_t>& act) {
    // Sum of the active inputs' rows of the [I, C] connected map: contiguous byte adds that
    // vectorise; split over columns only when there is enough work for a second thread.
    const int64_t grain = std::max<int64_t>(256, (int64_t(1) << 20) / std::max<int64_t>(1, act.size()));
    parallel_for(0, C_, grain, [&](int64_t b, int64_t e) {
        int32_t* ov = overlaps_.data();
        std::fill(ov + b, ov + e, 0);
        for (int32_t i : act) {
            const uint8_t* row = &connected_t_[int64_t(i) * C_];
            for (int64_t c = b; c < e; ++c) ov[c] += row[c];
        }
    });
}

void SpatialPooler::inhibit_global(std::vector<int32_t>& winners) const {
    const int64_t k = std::max<int64_t>(1, std::lround(p_.local_area_density * C_));
    std::vector<std::pair<float, int32_t>> cand;
    for (int64_t c = 0; c < C_; ++c)
        if (overlaps_[c] > 0 && overlaps_[c] >= p_.stimulus_threshold)
            cand.emplace_back(boosted_[c] + s_.tie_break[c], static_cast<int32_t>(c));
    auto better = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    if (static_cast<int64_t>(cand.size()) > k) {
        std::nth_element(cand.begin(), cand.begin() + k, cand.end(), better);
        cand.resize(k);
    }
    for (const auto& x : cand) winners.push_back(x.second);
    std::sort(winners.begin(), winners.end());
}

void SpatialPooler::inhibit_local(std::vector<int32_t>& winners) const {
    std::vector<float> score(C_);
    for (int64_t c = 0; c < C_; ++c)
        score[c] = (overlaps_[c] > 0 && overlaps_[c] >= p_.stimulus_threshold)
                       ? boosted_[c] + s_.tie_break[c] : -1.f;
    std::vector<int64_t> coord;
    for (int64_t c = 0; c < C_; ++c) {
        if (score[c] < 0) continue;
        unflatten(c, p_.column_dimensions, coord);
        int64_t bigger = 0, hood = 0;
        for_each_neighbor(coord, p_.column_dimensions, s_.inhibition_radius, p_.wrap_around,
                          [&](int64_t n) {
                              if (n == c) return;
                              ++hood;
                              bigger += score[n] > score[c] || (score[n] == score[c] && n < c);
                          });
        const int64_t num_active = std::max<int64_t>(1, static_cast<int64_t>(
                                                            0.5 + p_.local_area_density * (hood + 1)));
        if (bigger < num_active) winners.push_back(static_cast<int32_t>(c));
    }
}

void SpatialPooler::compute(const uint8_t* input, bool learn, uint8_t* active) {
    std::vector<int32_t> act;
    for (int64_t i = 0; i < I_; ++i)
        if (input[i]) act.push_back(static_cast<int32_t>(i));
    ++s_.iteration;
    if (learn) ++s_.iteration_learn;
    calc_overlaps(act);
    for (int64_t c = 0; c < C_; ++c)  // boosting only while learning, as in htm.core
        boosted_[c] = learn ? overlaps_[c] * s_.boost[c] : static_cast<float>(overlaps_[c]);
    std::vector<int32_t> winners;
    const int64_t max_dim = *std::max_element(p_.column_dimensions.begin(), p_.column_dimensions.end());
    if (p_.global_inhibition || s_.inhibition_radius > max_dim)
        inhibit_global(winners);
    else
        inhibit_local(winners);
    std::fill(active, active + C_, uint8_t(0));
    for (int32_t c : winners) active[c] = 1;
    if (!learn) return;
    adapt(input, winners);
    update_duty_cycles(winners);
    bump_weak_columns();
    update_boost();
    if (s_.iteration_learn % p_.update_period == 0) {
        update_inhibition_radius();
        update_min_duty_cycles();
    }
}

void SpatialPooler::adapt(const uint8_t* input, const std::vector<int32_t>& winners) {
    const float inc = static_cast<float>(p_.syn_perm_active_inc);
    const float dec = static_cast<float>(p_.syn_perm_inactive_dec);
    const float thr = static_cast<float>(p_.syn_perm_connected);
    for (int64_t i = 0; i < I_; ++i) delta_[i] = input[i] ? inc : -dec;
    const float* d = delta_.data();
    // Winners own their permanence rows and their bytes of the connected map: threads split them.
    const int64_t grain = std::max<int64_t>(4, 65536 / std::max<int64_t>(1, I_));
    parallel_for(0, static_cast<int64_t>(winners.size()), grain, [&](int64_t b, int64_t e) {
        std::vector<uint8_t> crossed(I_ + 8, 0);
        for (int64_t w = b; w < e; ++w) {
            const int32_t c = winners[w];
            if (2 * pool_[c].size() < static_cast<size_t>(I_)) {  // small pool: walk its indices
                update_pool(c, [d](int32_t i) { return d[i]; });
            } else {
                // Large pool: a branch-free pass over the whole row (vectorised; inputs outside the
                // pool have permanence 0 and delta * 0), then the rare threshold crossings.
                float* perm = &s_.permanences[int64_t(c) * I_];
                const uint8_t* pot = &s_.potential[int64_t(c) * I_];
                uint8_t* x = crossed.data();
                for (int64_t i = 0; i < I_; ++i) {
                    const float o = perm[i];
                    const float n = std::min(1.f, std::max(0.f, o + d[i] * static_cast<float>(pot[i])));
                    perm[i] = n;
                    x[i] = static_cast<uint8_t>((o >= thr) != (n >= thr));
                }
                for (int64_t i = 0; i < I_; i += 8) {
                    uint64_t word;
                    std::memcpy(&word, x + i, 8);
                    if (!word) continue;
                    for (int64_t k = i; k < std::min(I_, i + 8); ++k)
                        if (x[k]) connected_t_[k * C_ + c] = perm[k] >= thr;
                }
            }
            raise_to_threshold(c);
        }
    });
}

void SpatialPooler::update_duty_cycles(const std::vector<int32_t>& winners) {
    const float period = static_cast<float>(std::min(p_.duty_cycle_period, s_.iteration_learn));
    const float keep = (period - 1.f) / period;
    for (int64_t c = 0; c < C_; ++c) {
        s_.overlap_duty[c] = s_.overlap_duty[c] * keep + (overlaps_[c] > 0 ? 1.f / period : 0.f);
        s_.active_duty[c] *= keep;
    }
    for (int32_t c : winners) s_.active_duty[c] += 1.f / period;
}

void SpatialPooler::bump_weak_columns() {
    const float bump = static_cast<float>(p_.syn_perm_connected / 10.0);
    for (int64_t c = 0; c < C_; ++c)
        if (s_.overlap_duty[c] < s_.min_overlap_duty[c]) update_pool(c, [bump](int32_t) { return bump; });
}

// boost = exp((target density - active duty cycle) * boost_strength) (Cui et al. 2017, eq. 6);
// the target is local_area_density with global inhibition, else the mean active duty cycle of the
// column's inhibition neighbourhood.
void SpatialPooler::update_boost() {
    if (p_.boost_strength == 0) return;
    const int64_t max_dim = *std::max_element(p_.column_dimensions.begin(), p_.column_dimensions.end());
    const bool global = p_.global_inhibition || s_.inhibition_radius > max_dim;
    std::vector<int64_t> coord;
    for (int64_t c = 0; c < C_; ++c) {
        double target = p_.local_area_density;
        if (!global) {
            unflatten(c, p_.column_dimensions, coord);
            double sum = 0;
            int64_t n = 0;
            for_each_neighbor(coord, p_.column_dimensions, s_.inhibition_radius, p_.wrap_around,
                              [&](int64_t k) { sum += s_.active_duty[k]; ++n; });
            target = sum / n;
        }
        s_.boost[c] = static_cast<float>(std::exp((target - s_.active_duty[c]) * p_.boost_strength));
    }
}

double SpatialPooler::avg_connected_span(int64_t c) const {
    const size_t nd = p_.input_dimensions.size();
    std::vector<int64_t> lo(nd, INT64_MAX), hi(nd, -1), coord;
    const float thr = static_cast<float>(p_.syn_perm_connected);
    bool any = false;
    for (int32_t i : pool_[c]) {
        if (s_.permanences[c * I_ + i] < thr) continue;
        any = true;
        unflatten(i, p_.input_dimensions, coord);
        for (size_t d = 0; d < nd; ++d) {
            lo[d] = std::min(lo[d], coord[d]);
            hi[d] = std::max(hi[d], coord[d]);
        }
    }
    if (!any) return 0.0;
    double span = 0;
    for (size_t d = 0; d < nd; ++d) span += double(hi[d] - lo[d] + 1);
    return span / double(nd);
}

void SpatialPooler::update_inhibition_radius() {
    const int64_t max_dim = *std::max_element(p_.column_dimensions.begin(), p_.column_dimensions.end());
    if (p_.global_inhibition) {
        s_.inhibition_radius = max_dim;
        return;
    }
    double span = 0;
    for (int64_t c = 0; c < C_; ++c) span += avg_connected_span(c);
    span /= double(C_);
    double cols_per_input = 0;
    for (size_t d = 0; d < p_.input_dimensions.size(); ++d)
        cols_per_input += double(p_.column_dimensions[d]) / double(p_.input_dimensions[d]);
    cols_per_input /= double(p_.input_dimensions.size());
    const double diameter = span * cols_per_input;
    s_.inhibition_radius = std::lround(std::max(1.0, (diameter - 1.0) / 2.0));
}

void SpatialPooler::update_min_duty_cycles() {
    const int64_t max_dim = *std::max_element(p_.column_dimensions.begin(), p_.column_dimensions.end());
    const float pct = static_cast<float>(p_.min_pct_overlap_duty_cycle);
    if (p_.global_inhibition || s_.inhibition_radius > max_dim) {
        const float mx = *std::max_element(s_.overlap_duty.begin(), s_.overlap_duty.end());
        std::fill(s_.min_overlap_duty.begin(), s_.min_overlap_duty.end(), pct * mx);
        return;
    }
    std::vector<int64_t> coord;
    for (int64_t c = 0; c < C_; ++c) {
        unflatten(c, p_.column_dimensions, coord);
        float mx = 0;
        for_each_neighbor(coord, p_.column_dimensions, s_.inhibition_radius, p_.wrap_around,
                          [&](int64_t k) { mx = std::max(mx, s_.overlap_duty[k]); });
        s_.min_overlap_duty[c] = pct * mx;
    }
}

void SpatialPooler::set_state(SpatialPoolerState s) {
    const size_t ci = static_cast<size_t>(C_ * I_);
    LAMINA_CHECK(s.permanences.size() == ci && s.potential.size() == ci,
                 "SpatialPooler.set_state: permanences/potential must hold ", C_, "x", I_, " = ", ci,
                 " values, got ", s.permanences.size(), " and ", s.potential.size());
    for (auto* v : {&s.overlap_duty, &s.active_duty, &s.min_overlap_duty, &s.boost, &s.tie_break})
        LAMINA_CHECK(static_cast<int64_t>(v->size()) == C_, "SpatialPooler.set_state: per-column "
                     "arrays must hold ", C_, " values, got ", v->size());
    LAMINA_CHECK(s.iteration >= 0 && s.iteration_learn >= 0 && s.inhibition_radius >= 0,
                 "SpatialPooler.set_state: negative counters");
    s_ = std::move(s);
    rng_.set_state(s_.rng);
    for (int64_t c = 0; c < C_; ++c) {
        pool_[c].clear();
        for (int64_t i = 0; i < I_; ++i)
            if (s_.potential[c * I_ + i]) pool_[c].push_back(static_cast<int32_t>(i));
    }
    rebuild_connected();
}

}  // namespace lamina::htm
