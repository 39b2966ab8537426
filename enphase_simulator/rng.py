"""Order-independent pseudo-random numbers derived from the seed.

Every draw is a hash of (seed, system, time slot, purpose), so a value never
depends on which requests came first or how far the simulation had run.
"""

from __future__ import annotations

MASK = (1 << 64) - 1
SCALE = 1.0 / (1 << 64)


def mix(*parts: int) -> int:
    """Hash integers into 64 well-mixed bits (splitmix64 over the parts)."""
    state = 0x9E3779B97F4A7C15
    for part in parts:
        state = (state ^ (part & MASK)) * 0xBF58476D1CE4E5B9 & MASK
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & MASK
        state ^= state >> 29
    return state


def unit(*parts: int) -> float:
    """Return a float in [0, 1) determined by the parts."""
    return mix(*parts) * SCALE
