"""The cell key method: consistent, bounded perturbation of every published count.

As for the England and Wales Census 2021 outputs and the ABS TableBuilder, each record has a
fixed secret **record key** (:mod:`gateway.policy.record_keys`: an HMAC of the record's identity
under the deployment's keyed-hash secret, computed by the engine), a cell's **cell key** is the
sum of the record keys of the records it counts, modulo ``modulus`` (the engine sums them beside
the count: :mod:`gateway.rewrite.cellkeys`), and a fixed **perturbation table** looked up by the
cell's true value and cell key gives its noise. Hence:

- the same records always get the same published value, whatever query, label, alias,
  template or geography produced the cell: asking again, or in another shape, or under a
  thousand different labels, gives nothing new to average;
- a total is perturbed as a cell in its own right (its key is the sum of its parts' keys, but
  its noise is a fresh look-up), so a total minus its published parts is the suppressed part
  plus several noises — never the value;
- nobody without the secret can compute a record key, and nothing published reveals one.

The perturbation table gives noise from ``-max_noise`` to ``+max_noise`` with triangular
probabilities (``max_noise + 1 - |e|``), spread over ``modulus`` slots; zeros get no noise and
no count above zero is perturbed to zero or below. Which counts are too small to publish is
decided on the *perturbed* value (:meth:`PerturbationTable.publish`): deciding on the true value
would tell whoever sees a published ``min_count - max_noise`` that the truth is ``min_count``
exactly. **Empty cells are suppressed with the small ones** (with a threshold): if a suppressed
cell meant "at least one", a total minus a part whose two noises happen to be extreme would pin
a count of 1 exactly (issue 14, about 1 pair in 81); a suppressed cell means "from 0 to
``min_count - 1 + max_noise``". The parameters are in the policy's ``[disclosure]`` section
(``method``, ``max_noise``, ``modulus``), recorded in every audit record with the number of
cells perturbed.

The cost is one table look-up per cell: linear in cells (``benchmarks/bench_disclosure.py``).

Example:
    >>> table = PerturbationTable(max_noise=2, modulus=256)
    >>> table.noise(0, 17), all(abs(table.noise(7, k)) <= 2 for k in range(256))
    (0, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PerturbationTable"]


@dataclass(frozen=True)
class PerturbationTable:
    """Noise by true value and cell key.

    Attributes:
        max_noise: the largest change to a count (published values differ from the truth by at
            most this much).
        modulus: the number of cell keys.
    """

    max_noise: int = 2
    modulus: int = 256
    _slots: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_noise < 0 or self.modulus < 2 * self.max_noise + 1:
            raise ValueError("perturbation table: need 0 <= max_noise and enough cell keys")
        d = self.max_noise
        weights = {e: d + 1 - abs(e) for e in range(-d, d + 1)}
        total = sum(weights.values())
        slots: list[int] = []
        for e, w in weights.items():
            slots.extend([e] * round(w * self.modulus / total))
        # rounding may leave the table short or long: trim or pad with zeros (no noise)
        slots = (slots + [0] * self.modulus)[: self.modulus]
        object.__setattr__(self, "_slots", tuple(slots))

    def noise(self, value: int, key: int) -> int:
        """The noise for a cell of true ``value`` and cell key ``key`` (zero for a zero; a
        count above zero stays above zero)."""
        if value <= 0:
            return 0
        return max(self._slots[key % self.modulus], 1 - value)

    def publish(self, value: int, key: int, min_count: int, round_to: int) -> int | None:
        """The published value of a cell, or None when it is suppressed: the perturbed value,
        suppressed when below ``min_count`` (an empty cell too, when there is a threshold),
        then rounded to ``round_to``.

        Example:
            >>> table = PerturbationTable(max_noise=2, modulus=256)
            >>> table.publish(0, 5, 10, 0), table.publish(3, 5, 10, 0), table.publish(0, 5, 0, 0)
            (None, None, 0)
            >>> all(abs(table.publish(40, k, 10, 0) - 40) <= 2 for k in range(256))
            True
        """
        out = value + self.noise(value, key)
        if out < min_count and (out > 0 or min_count > 1):
            return None
        if round_to > 1:
            out = round_to * ((2 * out + round_to) // (2 * round_to))  # nearest, halves up
        return out

    def to_dict(self) -> dict[str, int]:
        return {"max_noise": self.max_noise, "modulus": self.modulus}
