"""The image-dynamics strip shows evenly spaced points from the start of the path to its end."""

import pytest

from latentscape.landscape.studies.dynamics import strip_positions


@pytest.mark.parametrize("count, columns, expected", [
    (3, 11, [0, 1, 2]),  # the demo at points=3 showed t = 0 alone
    (5, 11, [0, 1, 2, 3, 4]),  # path --points 5 stopped at t = 0.5
    (61, 11, list(range(0, 61, 6))),
    (21, 11, list(range(0, 21, 2))),
    (1, 11, [0]),
])
def test_the_strip_runs_from_the_first_point_to_the_last(count, columns, expected):
    assert strip_positions(count, columns) == expected
