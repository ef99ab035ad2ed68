"""Class breaks by mapclassify for the map's legends."""

from __future__ import annotations

import mapclassify
import numpy as np
import pytest

from maps.classes import JENKS_SAMPLE, classify


def test_quantiles_and_equal_intervals_are_mapclassifys_with_the_counts_per_class() -> None:
    values = [0, 0, 1, 2, 3, 5, 8, 13]
    classes = classify(values, "quantiles", 4)
    assert classes.bounds == pytest.approx(list(mapclassify.Quantiles(np.array(values, float), k=4).bins))
    assert sum(classes.counts) == len(values) and classes.minimum == 0
    assert classify(values, "equal_interval", 2).bounds == pytest.approx([6.5, 13])


def test_fisher_jenks_is_exact_for_a_view_and_sampled_by_rank_beyond() -> None:
    small = [1, 1, 2, 2, 9, 10, 30, 31]
    assert classify(small, "fisher_jenks", 3).bounds == pytest.approx([2, 10, 31])
    big = np.concatenate([np.full(400, 1.0), np.full(400, 50.0), np.full(200, 400.0)])
    classes = classify(big, "fisher_jenks", 3)
    assert len(big) > JENKS_SAMPLE and classes.bounds == pytest.approx([1, 50, 400])
    assert classes.counts == [400, 400, 200]


def test_the_users_breaks_are_kept_and_the_maximum_closes_them() -> None:
    classes = classify([0, 1, 2, 30], "user", breaks=[1, 5])
    assert (classes.bounds, classes.counts) == ([1, 5, 30], [2, 1, 1])


@pytest.mark.parametrize(("kwargs", "field"), [({"scheme": "user", "breaks": [5, 1]}, "breaks"),
                                                ({"scheme": "user"}, "breaks"), ({"k": 0}, "k"), ({"k": 10}, "k")])
def test_unusable_arguments_name_themselves(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=f"^{field}:"):
        classify([1, 2, 3], **kwargs)


def test_ties_give_fewer_classes_and_no_value_gives_none() -> None:
    assert classify([3, 3, 3], "quantiles", 5).bounds == [3]
    assert classify([float("nan")], "quantiles").bounds == []
