"""lamina.htm.TemporalMemory: simple and high-order sequences, one-shot and noisy learning, reset,
raw anomaly, punishing wrong predictions, segment/synapse limits, argument errors."""
import numpy as np
import pytest
from lamina import htm

COLS, ACTIVE = 512, 20


def patterns(n, seed=0):
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(COLS, ACTIVE, replace=False)) for _ in range(n)]


def make_tm(**kw):
    args = {"column_dimensions": COLS, "cells_per_column": 8, "activation_threshold": 12,
                "min_threshold": 8, "max_new_synapse_count": 20, "seed": 1}
    args.update(kw)
    return htm.TemporalMemory(**args)


def predicted_columns(tm):
    return set(np.flatnonzero(tm.get_predicted_columns()).tolist())


def train(tm, seqs, reps):
    for _ in range(reps):
        for s in seqs:
            for p in s:
                tm.compute(p, learn=True)
            tm.reset()


def test_simple_sequence_is_learned():
    tm = make_tm()
    seq = patterns(6)
    first = []
    for p in seq:
        tm.compute(p, learn=True)
        first.append(tm.anomaly)
        # a bursting column activates all its cells (column-major numbering)
    assert first == [1.0] * 6
    cells = np.flatnonzero(tm.get_active_cells())
    assert len(cells) == ACTIVE * 8 and set((cells // 8).tolist()) == set(seq[-1].tolist())
    tm.reset()
    train(tm, [seq], 8)
    scores = []
    for i, p in enumerate(seq):
        tm.compute(p, learn=False)
        scores.append(tm.anomaly)
        if i + 1 < len(seq):
            assert predicted_columns(tm) == set(seq[i + 1].tolist())
    assert scores[0] == 1.0 and scores[1:] == [0.0] * 5
    # predicted columns activate one cell each, not all
    assert tm.get_active_cells().sum() == ACTIVE


def test_high_order_sequences_use_context():
    a, b, c, d, x, y = patterns(6, seed=1)
    # Early on, B C after X is still read in A's context and C's cell learns to predict Y too;
    # punishing predictions that do not come true (predicted_segment_decrement) removes that.
    tm = make_tm(predicted_segment_decrement=0.05)
    train(tm, [[a, b, c, d], [x, b, c, y]], 15)
    for start, end, other in ((a, d, y), (x, y, d)):
        tm.reset()
        for p in (start, b, c):
            tm.compute(p, learn=False)
        assert tm.anomaly == 0.0
        pred = predicted_columns(tm)
        assert pred == set(end.tolist()), "the prediction after B C depends on what came before"
        assert not pred & (set(other.tolist()) - set(end.tolist()))


def test_one_shot_learning():
    seq = patterns(5, seed=2)
    tm = make_tm(initial_permanence=0.5, connected_permanence=0.5, activation_threshold=15)
    for p in seq:
        tm.compute(p, learn=True)
    tm.reset()
    for i, p in enumerate(seq):
        tm.compute(p, learn=False)
        assert tm.anomaly == (1.0 if i == 0 else 0.0)


def test_noisy_sequences():
    rng = np.random.default_rng(3)
    seq = patterns(8, seed=3)

    def noisy(p, k):
        keep = rng.choice(p, ACTIVE - k, replace=False)
        extra = rng.choice(np.setdiff1d(np.arange(COLS), p), k, replace=False)
        return np.sort(np.concatenate([keep, extra]))

    tm = make_tm()
    for _ in range(20):  # every presentation has 3 of 20 columns replaced
        for p in seq:
            tm.compute(noisy(p, 3), learn=True)
        tm.reset()
    clean, with_noise = [], []
    for p in seq:
        tm.compute(p, learn=False)
        clean.append(tm.anomaly)
    tm.reset()
    for p in seq:
        tm.compute(noisy(p, 3), learn=False)
        with_noise.append(tm.anomaly)
    assert max(clean[1:]) <= 0.05, clean
    assert np.mean(with_noise[1:]) <= 0.25, with_noise  # only the replaced columns surprise


def test_reset_and_raw_anomaly():
    a, b, c = patterns(3, seed=4)
    tm = make_tm()
    train(tm, [[a, b, c]], 8)
    tm.compute(a, learn=False)
    assert tm.get_predictive_cells().any()
    tm.reset()
    assert not tm.get_predictive_cells().any() and not tm.get_active_cells().any()
    tm.compute(b, learn=False)  # b without its context: nothing predicted it
    assert tm.anomaly == 1.0
    tm.reset()
    tm.compute(a, learn=False)
    half = np.sort(np.concatenate([b[:10], np.setdiff1d(np.arange(COLS), np.concatenate([a, b, c]))[:10]]))
    tm.compute(half, learn=False)
    assert tm.anomaly == pytest.approx(0.5)  # 10 of 20 active columns were predicted
    tm.compute(np.zeros(COLS, dtype=bool), learn=False)
    assert tm.anomaly == 0.0  # no active column, nothing unexpected


def test_predicted_segment_decrement_forgets_wrong_predictions():
    a, b, c = patterns(3, seed=5)

    def run(dec):
        tm = make_tm(predicted_segment_decrement=dec)
        train(tm, [[a, b]], 8)
        train(tm, [[a, c]], 6)
        tm.compute(a, learn=False)
        return predicted_columns(tm)

    kept, punished = run(0.0), run(0.1)
    assert set(b.tolist()) <= kept           # without punishment the old successor stays predicted
    assert not (set(b.tolist()) - set(c.tolist())) & punished
    assert set(c.tolist()) <= punished


def test_segment_and_synapse_limits():
    tm = make_tm(max_segments_per_cell=2, max_synapses_per_segment=12, activation_threshold=8,
                 min_threshold=6, cells_per_column=2)
    rng = np.random.default_rng(6)
    pats = patterns(30, seed=6)
    for _ in range(200):
        tm.compute(pats[rng.integers(30)], learn=True)
    st = tm.state_dict()["state"]
    seg_cells = st["segment_cell"]
    assert len(seg_cells) == tm.num_segments() > 0
    assert np.bincount(seg_cells).max() <= 2
    assert np.bincount(st["synapse_segment"]).max() <= 12
    assert len(st["synapse_presyn"]) == tm.num_synapses()
    assert ((st["synapse_permanence"] > 0) & (st["synapse_permanence"] <= 1)).all()


def test_indices_and_masks_are_equivalent_and_seeded():
    seq = patterns(5, seed=7)
    t1, t2 = make_tm(), make_tm()
    for _ in range(3):
        for p in seq:
            m = np.zeros(COLS, dtype=bool)
            m[p] = True
            t1.compute(p, learn=True)
            t2.compute(m, learn=True)
            assert (t1.get_active_cells() == t2.get_active_cells()).all()
            assert (t1.get_winner_cells() == t2.get_winner_cells()).all()
    assert t1.num_synapses() == t2.num_synapses()
    # another seed picks other winner cells when bursting
    t3 = make_tm(seed=2)
    t3.compute(seq[0], learn=True)
    t1.reset()
    t1b = make_tm()
    t1b.compute(seq[0], learn=True)
    assert (t3.get_winner_cells() != t1b.get_winner_cells()).any()


@pytest.mark.parametrize("kwargs, match", [
    ({"cells_per_column": 0}, "cells_per_column"),
    ({"initial_permanence": 1.5}, "permanences"),
    ({"activation_threshold": 0}, "activation_threshold"),
    ({"max_segments_per_cell": 0}, "max_segments_per_cell"),
    ({"column_dimensions": 0}, "positive"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_tm(**kwargs)


def test_bad_inputs():
    tm = make_tm()
    with pytest.raises(ValueError, match="out of range for 512 columns"):
        tm.compute([3, 512])
    with pytest.raises(ValueError, match="must have 512 entries"):
        tm.compute(np.zeros(100, dtype=bool))
    with pytest.raises(TypeError, match="integer indices"):
        tm.compute(np.array([1.5, 2.0]))


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_python_reference_step_by_step(seed):
    """The C++ temporal memory against a plain-Python one written from BAMI's pseudo-code with
    the same tie-break rules and random stream: every step's active, winner and predictive cells
    and anomaly, and the final segments and synapses, with tight segment/synapse limits,
    punishment, learning switched off now and then, and resets."""
    import _tm_reference

    args = {"num_columns": 64, "cells_per_column": 4, "activation_threshold": 3, "initial_permanence": 0.21,
                "connected_permanence": 0.3, "min_threshold": 2, "max_new_synapse_count": 4,
                "permanence_increment": 0.1, "permanence_decrement": 0.05,
                "predicted_segment_decrement": 0.02, "max_segments_per_cell": 3,
                "max_synapses_per_segment": 6, "seed": seed + 5}
    ref = _tm_reference.ReferenceTM(**args)
    tm = htm.TemporalMemory(column_dimensions=args.pop("num_columns"), **args)
    rng = np.random.default_rng(seed)
    alphabet = [np.sort(rng.choice(64, 6, replace=False)) for _ in range(10)]
    seqs = [rng.integers(10, size=5) for _ in range(4)]
    predicted_steps = 0
    for step in range(400):
        seq = seqs[(step // 5) % 4]
        cols = alphabet[seq[step % 5]]
        if rng.random() < 0.1:
            cols = np.sort(rng.choice(64, 6, replace=False))
        learn = rng.random() > 0.1
        tm.compute(cols, learn=learn)
        ref.compute(cols, learn)
        assert np.flatnonzero(tm.get_active_cells()).tolist() == ref.active, step
        assert np.flatnonzero(tm.get_winner_cells()).tolist() == ref.winner, step
        assert np.flatnonzero(tm.get_predictive_cells()).tolist() == ref.predictive(), step
        assert tm.anomaly == pytest.approx(ref.anomaly), step
        predicted_steps += ref.anomaly < 1.0
        if step % 37 == 36:
            tm.reset()
            ref.reset()
    st = tm.state_dict()["state"]
    seg_cell, syn_seg, pre, perm = ref.synapses()
    np.testing.assert_array_equal(st["segment_cell"], seg_cell)
    np.testing.assert_array_equal(st["synapse_segment"], syn_seg)
    np.testing.assert_array_equal(st["synapse_presyn"], pre)
    np.testing.assert_allclose(st["synapse_permanence"], perm, atol=1e-6)
    assert predicted_steps > 100 and np.bincount(seg_cell).max() == 3
