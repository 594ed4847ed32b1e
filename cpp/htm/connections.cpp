// Connections: segment/synapse slot allocation with free lists, the presynaptic reverse map, and
// the one-pass dendrite activity count used by the temporal memory.
#include "connections.h"

#include <algorithm>

#include "../core/check.h"

namespace lamina::htm {

Connections::Connections(int64_t num_cells) : cell_segments_(num_cells), presyn_map_(num_cells) {}

int32_t Connections::create_segment(int32_t cell, int64_t iteration) {
    int32_t id;
    if (!free_segments_.empty()) {
        id = free_segments_.back();
        free_segments_.pop_back();
    } else {
        LAMINA_CHECK_RUNTIME(segments_.size() < static_cast<size_t>(INT32_MAX),
                             "TemporalMemory: too many segments");
        id = static_cast<int32_t>(segments_.size());
        segments_.emplace_back();
    }
    Segment& s = segments_[id];
    s.cell = cell;
    s.created = next_created_++;
    s.last_used = iteration;
    s.synapses.clear();
    cell_segments_[cell].push_back(id);  // creation order within the cell
    ++num_segments_;
    return id;
}

void Connections::destroy_segment(int32_t seg) {
    Segment& s = segments_[seg];
    while (!s.synapses.empty()) destroy_synapse(s.synapses.back());
    auto& list = cell_segments_[s.cell];
    list.erase(std::find(list.begin(), list.end(), seg));  // keeps creation order
    s.cell = -1;
    free_segments_.push_back(seg);
    --num_segments_;
}

int32_t Connections::create_synapse(int32_t seg, int32_t presyn, float permanence) {
    int32_t id;
    if (!free_synapses_.empty()) {
        id = free_synapses_.back();
        free_synapses_.pop_back();
    } else {
        LAMINA_CHECK_RUNTIME(synapses_.size() < static_cast<size_t>(INT32_MAX),
                             "TemporalMemory: too many synapses");
        id = static_cast<int32_t>(synapses_.size());
        synapses_.emplace_back();
    }
    synapses_[id] = Synapse{presyn, seg, permanence};
    segments_[seg].synapses.push_back(id);
    presyn_map_[presyn].push_back(id);
    ++num_synapses_;
    return id;
}

void Connections::destroy_synapse(int32_t syn) {
    Synapse& s = synapses_[syn];
    auto& own = segments_[s.segment].synapses;
    own.erase(std::find(own.begin(), own.end(), syn));  // keeps creation order
    auto& rev = presyn_map_[s.presyn];                   // order there does not matter
    auto it = std::find(rev.begin(), rev.end(), syn);
    *it = rev.back();
    rev.pop_back();
    s.segment = -1;
    free_synapses_.push_back(syn);
    --num_synapses_;
}

void Connections::compute_activity(const std::vector<int32_t>& active_cells, float connected,
                                   std::vector<int32_t>& num_connected,
                                   std::vector<int32_t>& num_potential,
                                   std::vector<int32_t>& touched) const {
    if (num_connected.size() < segments_.size()) {
        num_connected.resize(segments_.size(), 0);
        num_potential.resize(segments_.size(), 0);
    }
    for (int32_t cell : active_cells) {
        for (int32_t syn : presyn_map_[cell]) {
            const Synapse& s = synapses_[syn];
            if (num_potential[s.segment]++ == 0) touched.push_back(s.segment);
            num_connected[s.segment] += s.permanence >= connected;
        }
    }
}

size_t Connections::memory_bytes() const {
    size_t n = segments_.capacity() * sizeof(Segment) + synapses_.capacity() * sizeof(Synapse);
    for (const auto& s : segments_) n += s.synapses.capacity() * sizeof(int32_t);
    for (const auto& v : cell_segments_) n += sizeof(v) + v.capacity() * sizeof(int32_t);
    for (const auto& v : presyn_map_) n += sizeof(v) + v.capacity() * sizeof(int32_t);
    n += (free_segments_.capacity() + free_synapses_.capacity()) * sizeof(int32_t);
    return n;
}

}  // namespace lamina::htm
