// Bindings for the HTM core (cpp/htm): the spatial pooler and temporal memory as stateful classes
// over NumPy arrays, with their state exported as dicts of arrays for lamina.save/lamina.load.
// Argument checks live in C++; compute() releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <vector>

#include "../core/check.h"
#include "../htm/spatial_pooler.h"
#include "../htm/temporal_memory.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

namespace {
using htm::SpatialPooler;
using htm::TemporalMemory;
template <class T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
    py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
    return a;
}

template <class T>
std::vector<T> from_numpy(const py::dict& d, const char* key) {
    LAMINA_CHECK(d.contains(key), "htm set_state: missing entry '", key, "'");
    Arr<T> a = py::cast<Arr<T>>(d[key]);
    return std::vector<T>(a.data(), a.data() + a.size());
}

std::array<uint64_t, 4> rng_from(const py::dict& d) {
    auto v = from_numpy<uint64_t>(d, "rng");
    LAMINA_CHECK(v.size() == 4, "htm set_state: 'rng' must hold 4 integers, got ", v.size());
    return {v[0], v[1], v[2], v[3]};
}

py::array_t<uint64_t> rng_to(const std::array<uint64_t, 4>& s) {
    return to_numpy(std::vector<uint64_t>(s.begin(), s.end()));
}
}  // namespace

void register_htm(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    py::class_<SpatialPooler>(m, "HtmSpatialPooler",
                              "HTM spatial pooler core (use lamina.htm.SpatialPooler)")
        .def(py::init([](std::vector<int64_t> input_dimensions, std::vector<int64_t> column_dimensions,
                         int64_t potential_radius, double potential_pct, bool global_inhibition,
                         double local_area_density, int64_t stimulus_threshold,
                         double syn_perm_inactive_dec, double syn_perm_active_inc,
                         double syn_perm_connected, double min_pct_overlap_duty_cycle,
                         int64_t duty_cycle_period, double boost_strength, uint64_t seed,
                         bool wrap_around) {
                 htm::SpatialPoolerParams p;
                 p.input_dimensions = std::move(input_dimensions);
                 p.column_dimensions = std::move(column_dimensions);
                 p.potential_radius = potential_radius;
                 p.potential_pct = potential_pct;
                 p.global_inhibition = global_inhibition;
                 p.local_area_density = local_area_density;
                 p.stimulus_threshold = stimulus_threshold;
                 p.syn_perm_inactive_dec = syn_perm_inactive_dec;
                 p.syn_perm_active_inc = syn_perm_active_inc;
                 p.syn_perm_connected = syn_perm_connected;
                 p.min_pct_overlap_duty_cycle = min_pct_overlap_duty_cycle;
                 p.duty_cycle_period = duty_cycle_period;
                 p.boost_strength = boost_strength;
                 p.seed = seed;
                 p.wrap_around = wrap_around;
                 return new SpatialPooler(p);
             }),
             py::arg("input_dimensions"), py::arg("column_dimensions"), py::arg("potential_radius"),
             py::arg("potential_pct"), py::arg("global_inhibition"), py::arg("local_area_density"),
             py::arg("stimulus_threshold"), py::arg("syn_perm_inactive_dec"),
             py::arg("syn_perm_active_inc"), py::arg("syn_perm_connected"),
             py::arg("min_pct_overlap_duty_cycle"), py::arg("duty_cycle_period"),
             py::arg("boost_strength"), py::arg("seed"), py::arg("wrap_around"))
        .def("compute",
             [](SpatialPooler& sp, Arr<uint8_t> input, bool learn) {
                 LAMINA_CHECK(input.size() == sp.num_inputs(), "SpatialPooler.compute: input has ",
                              input.size(), " bits, expected ", sp.num_inputs(), " (input_dimensions ",
                              dims_str(sp.params().input_dimensions), ")");
                 py::array_t<uint8_t> out(sp.num_columns());
                 const uint8_t* in = input.data();
                 uint8_t* o = out.mutable_data();
                 {
                     py::gil_scoped_release release;
                     sp.compute(in, learn, o);
                 }
                 return out;
             },
             py::arg("input"), py::arg("learn"))
        .def_property_readonly("num_inputs", &SpatialPooler::num_inputs)
        .def_property_readonly("num_columns", &SpatialPooler::num_columns)
        .def_property_readonly("inhibition_radius",
                               [](const SpatialPooler& sp) { return sp.state().inhibition_radius; })
        .def("overlaps", [](const SpatialPooler& sp) { return to_numpy(sp.overlaps()); })
        .def("boosted_overlaps", [](const SpatialPooler& sp) { return to_numpy(sp.boosted_overlaps()); })
        .def("connected_counts", [](const SpatialPooler& sp) { return to_numpy(sp.connected_counts()); })
        .def("get_state",
             [](const SpatialPooler& sp) {
                 const auto& s = sp.state();
                 py::dict d;
                 auto perm = to_numpy(s.permanences);
                 perm.resize({sp.num_columns(), sp.num_inputs()});
                 auto pot = to_numpy(s.potential);
                 pot.resize({sp.num_columns(), sp.num_inputs()});
                 d["permanences"] = perm;
                 d["potential"] = pot;
                 d["overlap_duty"] = to_numpy(s.overlap_duty);
                 d["active_duty"] = to_numpy(s.active_duty);
                 d["min_overlap_duty"] = to_numpy(s.min_overlap_duty);
                 d["boost"] = to_numpy(s.boost);
                 d["tie_break"] = to_numpy(s.tie_break);
                 d["iteration"] = s.iteration;
                 d["iteration_learn"] = s.iteration_learn;
                 d["inhibition_radius"] = s.inhibition_radius;
                 d["rng"] = rng_to(s.rng);
                 return d;
             })
        .def("set_state", [](SpatialPooler& sp, const py::dict& d) {
            htm::SpatialPoolerState s;
            s.permanences = from_numpy<float>(d, "permanences");
            s.potential = from_numpy<uint8_t>(d, "potential");
            s.overlap_duty = from_numpy<float>(d, "overlap_duty");
            s.active_duty = from_numpy<float>(d, "active_duty");
            s.min_overlap_duty = from_numpy<float>(d, "min_overlap_duty");
            s.boost = from_numpy<float>(d, "boost");
            s.tie_break = from_numpy<float>(d, "tie_break");
            s.iteration = py::cast<int64_t>(d["iteration"]);
            s.iteration_learn = py::cast<int64_t>(d["iteration_learn"]);
            s.inhibition_radius = py::cast<int64_t>(d["inhibition_radius"]);
            s.rng = rng_from(d);
            sp.set_state(std::move(s));
        }, py::arg("state"));

    py::class_<TemporalMemory>(m, "HtmTemporalMemory",
                               "HTM temporal memory core (use lamina.htm.TemporalMemory)")
        .def(py::init([](int64_t num_columns, int64_t cells_per_column, int64_t activation_threshold,
                         double initial_permanence, double connected_permanence, int64_t min_threshold,
                         int64_t max_new_synapse_count, double permanence_increment,
                         double permanence_decrement, double predicted_segment_decrement,
                         int64_t max_segments_per_cell, int64_t max_synapses_per_segment,
                         uint64_t seed) {
                 htm::TemporalMemoryParams p;
                 p.num_columns = num_columns;
                 p.cells_per_column = cells_per_column;
                 p.activation_threshold = activation_threshold;
                 p.initial_permanence = initial_permanence;
                 p.connected_permanence = connected_permanence;
                 p.min_threshold = min_threshold;
                 p.max_new_synapse_count = max_new_synapse_count;
                 p.permanence_increment = permanence_increment;
                 p.permanence_decrement = permanence_decrement;
                 p.predicted_segment_decrement = predicted_segment_decrement;
                 p.max_segments_per_cell = max_segments_per_cell;
                 p.max_synapses_per_segment = max_synapses_per_segment;
                 p.seed = seed;
                 return new TemporalMemory(p);
             }),
             py::arg("num_columns"), py::arg("cells_per_column"), py::arg("activation_threshold"),
             py::arg("initial_permanence"), py::arg("connected_permanence"), py::arg("min_threshold"),
             py::arg("max_new_synapse_count"), py::arg("permanence_increment"),
             py::arg("permanence_decrement"), py::arg("predicted_segment_decrement"),
             py::arg("max_segments_per_cell"), py::arg("max_synapses_per_segment"), py::arg("seed"))
        .def("compute",
             [](TemporalMemory& tm, Arr<int32_t> cols, bool learn) {
                 std::vector<int32_t> v(cols.data(), cols.data() + cols.size());
                 py::gil_scoped_release release;
                 tm.compute(v, learn);
             },
             py::arg("active_columns"), py::arg("learn"))
        .def("reset", &TemporalMemory::reset, nogil())
        .def_property_readonly("anomaly", &TemporalMemory::anomaly)
        .def_property_readonly("num_cells", &TemporalMemory::num_cells)
        .def_property_readonly("num_segments", &TemporalMemory::num_segments)
        .def_property_readonly("num_synapses", &TemporalMemory::num_synapses)
        .def_property_readonly("num_active_segments", &TemporalMemory::num_active_segments)
        .def_property_readonly("num_matching_segments", &TemporalMemory::num_matching_segments)
        .def("memory_bytes", &TemporalMemory::memory_bytes)
        .def("active_cells", [](const TemporalMemory& tm) { return to_numpy(tm.active_cells()); })
        .def("winner_cells", [](const TemporalMemory& tm) { return to_numpy(tm.winner_cells()); })
        .def("predictive_cells", [](const TemporalMemory& tm) { return to_numpy(tm.predictive_cells()); })
        .def("get_state",
             [](const TemporalMemory& tm) {
                 auto s = tm.state();
                 py::dict d;
                 d["segment_cell"] = to_numpy(s.segment_cell);
                 d["segment_last_used"] = to_numpy(s.segment_last_used);
                 d["synapse_segment"] = to_numpy(s.synapse_segment);
                 d["synapse_presyn"] = to_numpy(s.synapse_presyn);
                 d["synapse_permanence"] = to_numpy(s.synapse_permanence);
                 d["active_cells"] = to_numpy(s.active_cells);
                 d["winner_cells"] = to_numpy(s.winner_cells);
                 d["iteration"] = s.iteration;
                 d["anomaly"] = s.anomaly;
                 d["rng"] = rng_to(s.rng);
                 return d;
             })
        .def("set_state", [](TemporalMemory& tm, const py::dict& d) {
            htm::TemporalMemoryState s;
            s.segment_cell = from_numpy<int32_t>(d, "segment_cell");
            s.segment_last_used = from_numpy<int64_t>(d, "segment_last_used");
            s.synapse_segment = from_numpy<int32_t>(d, "synapse_segment");
            s.synapse_presyn = from_numpy<int32_t>(d, "synapse_presyn");
            s.synapse_permanence = from_numpy<float>(d, "synapse_permanence");
            s.active_cells = from_numpy<int32_t>(d, "active_cells");
            s.winner_cells = from_numpy<int32_t>(d, "winner_cells");
            s.iteration = py::cast<int64_t>(d["iteration"]);
            s.anomaly = py::cast<double>(d["anomaly"]);
            s.rng = rng_from(d);
            tm.set_state(s);
        }, py::arg("state"));
}

}  // namespace lamina::bind
