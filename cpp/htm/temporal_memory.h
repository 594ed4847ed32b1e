// The HTM temporal memory (Hawkins & Ahmad 2016; BAMI "Temporal Memory" pseudo-code): learns
// sequences of sparse column activations with distal dendrite segments. Cells are column-major:
// cell = column * cells_per_column + i. Input: sorted active column indices; outputs: active,
// winner and predictive cells (sorted indices), the raw anomaly score and segment statistics.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "connections.h"
#include "random.h"

namespace lamina::htm {

struct TemporalMemoryParams {
    int64_t num_columns = 0;
    int64_t cells_per_column = 32;
    int64_t activation_threshold = 13;
    double initial_permanence = 0.21;
    double connected_permanence = 0.5;
    int64_t min_threshold = 10;
    int64_t max_new_synapse_count = 20;
    double permanence_increment = 0.1;
    double permanence_decrement = 0.1;
    double predicted_segment_decrement = 0.0;
    int64_t max_segments_per_cell = 255;
    int64_t max_synapses_per_segment = 255;
    uint64_t seed = 42;
};

// The saved form: segments compacted in (cell, creation) order, synapses in segment order.
struct TemporalMemoryState {
    std::vector<int32_t> segment_cell;       // [S]
    std::vector<int64_t> segment_last_used;  // [S]
    std::vector<int32_t> synapse_segment;    // [Y] index into the segment arrays
    std::vector<int32_t> synapse_presyn;     // [Y]
    std::vector<float> synapse_permanence;   // [Y]
    std::vector<int32_t> active_cells, winner_cells;
    int64_t iteration = 0;
    double anomaly = 0.0;
    std::array<uint64_t, 4> rng{};
};

class TemporalMemory {
public:
    explicit TemporalMemory(const TemporalMemoryParams& p);

    // active_columns: sorted, unique, each < num_columns (checked).
    void compute(const std::vector<int32_t>& active_columns, bool learn);
    void reset();

    const TemporalMemoryParams& params() const { return p_; }
    int64_t num_cells() const { return p_.num_columns * p_.cells_per_column; }
    double anomaly() const { return anomaly_; }
    const std::vector<int32_t>& active_cells() const { return active_cells_; }
    const std::vector<int32_t>& winner_cells() const { return winner_cells_; }
    std::vector<int32_t> predictive_cells() const;  // cells with an active segment, sorted
    int64_t num_segments() const { return conn_.num_segments(); }
    int64_t num_synapses() const { return conn_.num_synapses(); }
    int64_t num_active_segments() const { return static_cast<int64_t>(active_segments_.size()); }
    int64_t num_matching_segments() const { return static_cast<int64_t>(matching_segments_.size()); }
    size_t memory_bytes() const;

    TemporalMemoryState state() const;
    void set_state(const TemporalMemoryState& s);  // checks sizes and ranges

private:
    void check_params() const;
    int32_t column_of(int32_t cell) const { return cell / static_cast<int32_t>(p_.cells_per_column); }
    void activate_predicted_column(const int32_t* segs, size_t n, bool learn);
    void burst_column(int32_t column, const int32_t* segs, size_t n, bool learn);
    void punish_predicted_column(const int32_t* segs, size_t n);
    void adapt_segment(int32_t seg, float inc, float dec);
    void grow_synapses(int32_t seg, int64_t n);
    int32_t create_segment(int32_t cell);
    int32_t least_used_cell(int32_t column);
    void activate_dendrites(bool learn);

    TemporalMemoryParams p_;
    Connections conn_;
    Random rng_;
    int64_t iteration_ = 0;
    double anomaly_ = 0.0;
    std::vector<int32_t> active_cells_, winner_cells_;
    std::vector<int32_t> prev_active_, prev_winner_;
    std::vector<int32_t> active_segments_, matching_segments_;  // sorted by (cell, creation)
    std::vector<int32_t> num_connected_, num_potential_, touched_;
    std::vector<uint8_t> prev_active_mask_, mark_;  // [cells] scratch
};

}  // namespace lamina::htm
