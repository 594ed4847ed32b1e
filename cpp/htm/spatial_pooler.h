// The HTM spatial pooler (Cui, Ahmad & Hawkins 2017; BAMI "Spatial Pooling"): turns a binary input
// of I bits into a sparse set of active columns (C columns, about local_area_density * C active).
// Shapes: input [I] uint8 (0/1), output [C] uint8 mask; permanences [C, I] float32 (0 outside a
// column's potential pool). Learning: Hebbian permanence updates, duty cycles, boosting, bumping
// weak columns, periodic inhibition-radius updates. All state is exported for save/load.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "random.h"

namespace lamina::htm {

struct SpatialPoolerParams {
    std::vector<int64_t> input_dimensions;
    std::vector<int64_t> column_dimensions;
    int64_t potential_radius = 16;
    double potential_pct = 0.5;
    bool global_inhibition = false;
    double local_area_density = 0.02;
    int64_t stimulus_threshold = 0;
    double syn_perm_inactive_dec = 0.01;
    double syn_perm_active_inc = 0.1;
    double syn_perm_connected = 0.1;
    double min_pct_overlap_duty_cycle = 0.001;
    int64_t duty_cycle_period = 1000;
    double boost_strength = 0.0;
    uint64_t seed = 1;
    bool wrap_around = true;
    int64_t update_period = 50;  // iterations between inhibition-radius / min-duty-cycle updates
};

// Everything that changes while the pooler runs (what save/load must carry).
struct SpatialPoolerState {
    std::vector<float> permanences;       // [C, I]
    std::vector<uint8_t> potential;       // [C, I]
    std::vector<float> overlap_duty;      // [C]
    std::vector<float> active_duty;       // [C]
    std::vector<float> min_overlap_duty;  // [C]
    std::vector<float> boost;             // [C]
    std::vector<float> tie_break;         // [C] fixed tiny per-column offsets that break ties
    int64_t iteration = 0;                // compute() calls
    int64_t iteration_learn = 0;          // compute(learn=true) calls
    int64_t inhibition_radius = 0;
    std::array<uint64_t, 4> rng{};
};

class SpatialPooler {
public:
    explicit SpatialPooler(const SpatialPoolerParams& p);

    // input [I] (0/1 bytes) -> active [C] (0/1 bytes). learn adapts permanences and duty cycles.
    void compute(const uint8_t* input, bool learn, uint8_t* active);

    const SpatialPoolerParams& params() const { return p_; }
    int64_t num_inputs() const { return I_; }
    int64_t num_columns() const { return C_; }
    const std::vector<int32_t>& overlaps() const { return overlaps_; }             // last step, [C]
    const std::vector<float>& boosted_overlaps() const { return boosted_; }        // last step, [C]
    std::vector<int32_t> connected_counts() const;                                 // [C]
    const SpatialPoolerState& state() const { return s_; }
    void set_state(SpatialPoolerState s);  // checks every size against the parameters

private:
    void check_params() const;
    void init_column(int64_t c);
    void raise_to_threshold(int64_t c);
    template <class F>
    void update_pool(int64_t c, const F& delta);
    void rebuild_connected();
    void calc_overlaps(const std::vector<int32_t>& active_inputs);
    void inhibit_global(std::vector<int32_t>& winners) const;
    void inhibit_local(std::vector<int32_t>& winners) const;
    void adapt(const uint8_t* input, const std::vector<int32_t>& winners);
    void update_duty_cycles(const std::vector<int32_t>& winners);
    void bump_weak_columns();
    void update_boost();
    void update_inhibition_radius();
    void update_min_duty_cycles();
    double avg_connected_span(int64_t c) const;
    std::vector<int64_t> map_column(int64_t c) const;  // center input coordinate of column c

    SpatialPoolerParams p_;
    int64_t I_ = 0, C_ = 0;
    SpatialPoolerState s_;
    Random rng_;
    std::vector<std::vector<int32_t>> pool_;  // potential input indices per column
    // [I, C] 1 where column c's synapse to input i is connected: the transpose makes the overlap
    // a sum of the active inputs' contiguous rows. Kept in step with every permanence change.
    std::vector<uint8_t> connected_t_;
    std::vector<float> delta_;                // [I] this step's permanence change per input
    std::vector<int32_t> overlaps_;
    std::vector<float> boosted_;
};

}  // namespace lamina::htm
