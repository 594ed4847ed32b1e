"""lamina.htm encoders: bit layouts, similarity (overlap) structure, determinism and bad arguments."""
import datetime

import numpy as np
import pytest
from lamina import htm


def bits(x):
    return set(np.flatnonzero(x).tolist())


def test_scalar_encoder_layout_and_overlap():
    e = htm.ScalarEncoder(size=100, active_bits=10, minimum=0, maximum=90)
    assert e.encode(0).dtype == np.bool_ and e.encode(0).shape == (100,)
    assert bits(e.encode(0)) == set(range(10))
    assert bits(e.encode(90)) == set(range(90, 100))
    for v in np.linspace(0, 90, 37):
        assert e.encode(v).sum() == 10
    # overlap falls off linearly with distance (resolution 1 here: 91 buckets over 0..90)
    assert e.resolution == pytest.approx(1.0)
    overlaps = [len(bits(e.encode(40)) & bits(e.encode(40 + d))) for d in range(12)]
    assert overlaps == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]
    assert not e.encode(float("nan")).any()


def test_scalar_encoder_periodic_and_clip():
    e = htm.ScalarEncoder(size=24, active_bits=5, minimum=0, maximum=24, periodic=True)
    assert bits(e.encode(23)) == {23, 0, 1, 2, 3}  # wraps around
    assert (e.encode(0) == e.encode(24)).all()     # a full period later is the same
    assert len(bits(e.encode(23.5)) & bits(e.encode(0.5))) == 4
    with pytest.raises(ValueError, match="outside"):
        htm.ScalarEncoder(50, 5, 0, 10).encode(11)
    c = htm.ScalarEncoder(50, 5, 0, 10, clip_input=True)
    assert (c.encode(11) == c.encode(10)).all() and (c.encode(-3) == c.encode(0)).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"size": 10, "active_bits": 10, "minimum": 0, "maximum": 1}, "active_bits"),
    ({"size": 10, "active_bits": 0, "minimum": 0, "maximum": 1}, "active_bits"),
    ({"size": 10, "active_bits": 2, "minimum": 1, "maximum": 1}, "minimum < maximum"),
    ({"size": 10, "active_bits": 2, "minimum": 0, "maximum": 1, "periodic": True, "clip_input": True}, "periodic"),
])
def test_scalar_encoder_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        htm.ScalarEncoder(**kwargs)


def test_rdse_similarity_determinism_and_sparsity():
    e = htm.RDSE(size=1000, active_bits=40, resolution=0.5, seed=7)
    a = e.encode(10.0)
    assert 36 <= a.sum() <= 40  # hash collisions may merge a bit or two
    near = [len(bits(a) & bits(e.encode(10.0 + 0.5 * k))) for k in (1, 5, 20)]
    assert near[0] >= 36 and 30 <= near[1] <= 36 and near[2] <= 24
    far = [len(bits(a) & bits(e.encode(v))) for v in (500.0, -300.0, 1e6)]
    assert max(far) <= 8  # chance overlap ~ 40 * 40 / 1000 = 1.6
    assert (htm.RDSE(1000, 40, resolution=0.5, seed=7).encode(10.0) == a).all()
    assert len(bits(htm.RDSE(1000, 40, resolution=0.5, seed=8).encode(10.0)) & bits(a)) <= 10
    s = htm.RDSE(size=2000, sparsity=0.02, resolution=1.0)
    assert s.active_bits == 40
    # negative values and bucket edges work (floor, not truncation)
    assert len(bits(e.encode(-0.1)) & bits(e.encode(-0.4))) >= 36
    with pytest.raises(ValueError, match="exactly one"):
        htm.RDSE(100, active_bits=5, sparsity=0.05)
    with pytest.raises(ValueError, match="sparsity"):
        htm.RDSE(100, sparsity=1.5)
    with pytest.raises(ValueError, match="resolution"):
        htm.RDSE(100, active_bits=5, resolution=0)


def test_category_encoder_and_concatenation():
    e = htm.CategoryEncoder(["red", "green", "blue"], active_bits=4)
    assert e.size == 12 and bits(e.encode("green")) == {4, 5, 6, 7}
    assert not (e.encode("red") & e.encode("blue")).any()
    with pytest.raises(ValueError, match="unknown category"):
        e.encode("purple")
    s = htm.ScalarEncoder(20, 3, 0, 1)
    joint = htm.concatenate(e.encode("blue"), s.encode(0))
    assert joint.shape == (32,) and bits(joint) == {8, 9, 10, 11, 12, 13, 14}
    m = htm.MultiEncoder({"color": e, "x": s})
    assert m.size == 32 and (m.encode({"color": "blue", "x": 0}) == joint).all()
    assert (htm.MultiEncoder([e, s]).encode(["blue", 0]) == joint).all()
    with pytest.raises(ValueError, match="2 encoders but 1"):
        htm.MultiEncoder([e, s]).encode(["blue"])


def test_date_encoder_parts():
    e = htm.DateEncoder(time_of_day=(5, 4), weekend=3, day_of_week=3, season=0)
    # sizes: day_of_week 3 * 7 / 1 = 21, weekend 2 * 3 = 6, time_of_day 5 * 24 / 4 = 30
    assert e.size == 21 + 6 + 30
    sat = e.encode(datetime.datetime(2024, 6, 1, 9, 0))   # a Saturday
    mon = e.encode(datetime.datetime(2024, 6, 3, 9, 0))   # a Monday, same hour
    assert sat.sum() == 3 + 3 + 5
    weekend_bits = slice(21, 27)
    assert not (sat[weekend_bits] & mon[weekend_bits]).any()
    assert (sat[27:] == mon[27:]).all()  # same time of day
    # an hour later shares most time-of-day bits, twelve hours later none
    later = e.encode(datetime.datetime(2024, 6, 3, 10, 0))
    night = e.encode(datetime.datetime(2024, 6, 3, 21, 0))
    assert (mon[27:] & later[27:]).sum() >= 3 and not (mon[27:] & night[27:]).any()
    # timestamps (seconds, UTC) and numpy datetimes give the same encoding
    ts = datetime.datetime(2024, 6, 3, 9, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert (e.encode(ts) == mon).all() and (e.encode(np.datetime64("2024-06-03T09:00")) == mon).all()
    with pytest.raises(ValueError, match="enable at least one"):
        htm.DateEncoder()
    with pytest.raises(TypeError, match="datetime"):
        e.encode("monday")
