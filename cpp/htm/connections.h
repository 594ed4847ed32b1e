// Storage for temporal-memory dendrites: cells own ordered lists of segments, segments own ordered
// lists of synapses (presynaptic cell, permanence), and a reverse map presynaptic cell -> synapses
// lets one pass over the active cells count each segment's active synapses (Hawkins & Ahmad 2016).
// Segment and synapse ids are slots that get reused after destruction; order within a cell is
// creation order (`created`), which is what every tie-break and the saved state rely on.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lamina::htm {

struct Synapse {
    int32_t presyn = -1;   // presynaptic cell
    int32_t segment = -1;  // owning segment (-1: free slot)
    float permanence = 0.f;
};

struct Segment {
    int32_t cell = -1;               // owning cell (-1: free slot)
    int64_t created = 0;             // creation sequence number: order within the cell
    int64_t last_used = 0;           // iteration when last active or learned on
    std::vector<int32_t> synapses;   // synapse ids, creation order
};

class Connections {
public:
    explicit Connections(int64_t num_cells = 0);

    int64_t num_cells() const { return static_cast<int64_t>(cell_segments_.size()); }
    int64_t num_segments() const { return num_segments_; }
    int64_t num_synapses() const { return num_synapses_; }
    int64_t segment_capacity() const { return static_cast<int64_t>(segments_.size()); }

    int32_t create_segment(int32_t cell, int64_t iteration);
    void destroy_segment(int32_t seg);
    int32_t create_synapse(int32_t seg, int32_t presyn, float permanence);
    void destroy_synapse(int32_t syn);

    const Segment& segment(int32_t seg) const { return segments_[seg]; }
    Segment& segment(int32_t seg) { return segments_[seg]; }
    const Synapse& synapse(int32_t syn) const { return synapses_[syn]; }
    Synapse& synapse(int32_t syn) { return synapses_[syn]; }
    const std::vector<int32_t>& segments_of(int32_t cell) const { return cell_segments_[cell]; }

    // For every segment with an active synapse: counts of active connected (permanence >=
    // connected) and active potential synapses. Arrays are indexed by segment id and grown to the
    // capacity; `touched` lists the segments whose counts are non-zero (callers zero only those).
    void compute_activity(const std::vector<int32_t>& active_cells, float connected,
                          std::vector<int32_t>& num_connected, std::vector<int32_t>& num_potential,
                          std::vector<int32_t>& touched) const;

    // Orders segments by (cell, creation order).
    bool segment_less(int32_t a, int32_t b) const {
        const Segment& x = segments_[a];
        const Segment& y = segments_[b];
        return x.cell < y.cell || (x.cell == y.cell && x.created < y.created);
    }

    size_t memory_bytes() const;  // approximate heap bytes held

private:
    std::vector<Segment> segments_;
    std::vector<Synapse> synapses_;
    std::vector<int32_t> free_segments_, free_synapses_;
    std::vector<std::vector<int32_t>> cell_segments_;  // [cells] segment ids, creation order
    std::vector<std::vector<int32_t>> presyn_map_;     // [cells] synapse ids with that presyn cell
    int64_t next_created_ = 0;
    int64_t num_segments_ = 0, num_synapses_ = 0;
};

}  // namespace lamina::htm
