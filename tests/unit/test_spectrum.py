from billing.inventory.spectrum import PairKey, fit_on_path, free_ranges, is_free


def test_free_ranges_are_the_complement_of_taken_ranges() -> None:
    assert free_ranges(384, []) == [(0, 384)]
    assert free_ranges(384, [(4, 8), (0, 4), (100, 106)]) == [(8, 100), (106, 384)]
    assert free_ranges(10, [(0, 10)]) == []


def test_half_open_ranges_that_touch_do_not_overlap() -> None:
    assert is_free([(0, 4)], 4, 8)
    assert not is_free([(0, 4)], 3, 7)
    assert not is_free([(2, 3)], 0, 10)


def test_first_fit_fills_pair_one_before_pair_two() -> None:
    counts = {PairKey(1, 1): 384, PairKey(1, 2): 384}
    taken = {PairKey(1, 1): [(0, 4), (8, 12)]}
    fit = fit_on_path("main", [1], [1, 2], counts, taken, 4)
    assert fit is not None and (fit.fiber_pair_number, fit.first_slot) == (1, 4)
    fit = fit_on_path("main", [1], [1, 2], counts, {PairKey(1, 1): [(0, 384)]}, 4)
    assert fit is not None and (fit.fiber_pair_number, fit.first_slot) == (2, 0)


def test_a_path_of_two_segments_needs_the_same_slots_free_on_both() -> None:
    counts = {PairKey(1, 1): 384, PairKey(2, 1): 384}
    taken = {PairKey(1, 1): [(0, 4)], PairKey(2, 1): [(4, 10)]}
    fit = fit_on_path("long", [1, 2], [1], counts, taken, 4)
    assert fit is not None and fit.first_slot == 10


def test_a_pinned_range_that_is_taken_gives_no_fit() -> None:
    counts = {PairKey(1, 1): 384}
    assert fit_on_path("main", [1], [1], counts, {PairKey(1, 1): [(0, 4)]}, 4, first_slot=2) is None
    assert fit_on_path("main", [1], [1], counts, {}, 4, first_slot=381) is None


def test_indexed_occupancy_agrees_with_a_plain_scan() -> None:
    import random

    from billing.inventory.spectrum import Occupancy

    rng = random.Random(7)
    for _ in range(200):
        taken = []
        for _ in range(rng.randint(0, 12)):
            a = rng.randint(0, 60)
            taken.append((a, a + rng.randint(1, 8)))
        index = Occupancy(taken)
        for first in range(0, 70):
            for width in (1, 4, 6):
                assert index.is_free(first, first + width) == is_free(taken, first, first + width)
