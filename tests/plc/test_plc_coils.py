"""Which coil writes carry an image, an ejector switch and a tripped block, by the map's
addresses (pure: plantvision.plc.coils)."""

from __future__ import annotations

import pytest

from plantvision.plc.coils import CoilLayout, CoilWrite
from plantvision.plc.values import PlcOutputs

ON_WARN = PlcOutputs(permit=True, warning=True)
TRIPPED = PlcOutputs(permit=False, warning=True, fault_code=8)

# (layout, image writes for ON_WARN, tripped block for TRIPPED)
LAYOUTS: list[tuple[CoilLayout, list[CoilWrite], CoilWrite]] = [
    (CoilLayout(0, 1, (2, 3)), [(0, [True, True])], (0, [False, True, False, False])),
    (CoilLayout(0, None, (1, 2)), [(0, [True])], (0, [False, False, False])),
    (CoilLayout(3, 2, (0, 1)), [(2, [True, True])], (0, [False, False, True, False])),
    (CoilLayout(3, 1, (0, 2)), [(3, [True]), (1, [True])], (0, [False, True, False, False])),
]  # fmt: skip


@pytest.mark.parametrize(("layout", "image", "block"), LAYOUTS)
def test_each_write_covers_its_own_coils_by_address(
    layout: CoilLayout, image: list[CoilWrite], block: CoilWrite
) -> None:
    """The image writes only permit and warning (permit first when they are apart); a tripped
    block covers every output coil with the ejectors off; an ejector is its own address."""
    assert layout.image(ON_WARN) == image
    assert not set(layout.ejectors) & {a + i for a, bits in image for i in range(len(bits))}
    assert layout.tripped_block(TRIPPED) == block
    assert [layout.ejector(i) for i in range(len(layout.ejectors))] == list(layout.ejectors)


def test_an_ejector_index_off_the_map_is_refused() -> None:
    with pytest.raises(ValueError, match="ejector index 2: the map has 2 ejectors"):
        CoilLayout(0, 1, (2, 3)).ejector(2)
