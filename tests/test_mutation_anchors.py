"""The mutation bench's mutants still apply: each anchor matches the current source exactly
once, so a refactor cannot silently disable a mutant (``bench/mutation_bench.py``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.mutation_bench import MUTANTS, AnchorError, Mutant, apply  # noqa: E402


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_anchor_matches_exactly_once(mutant: Mutant, tmp_path: Path) -> None:
    copy = tmp_path / mutant.path
    copy.parent.mkdir(parents=True)
    shutil.copy2(ROOT / mutant.path, copy)
    apply(mutant, tmp_path)
    mutated = copy.read_text()
    assert mutated != (ROOT / mutant.path).read_text()
    compile(mutated, str(copy), "exec")  # still Python: a semantic mutant, not a syntax error
    for test in mutant.tests:
        assert (ROOT / test.split("::")[0]).is_file(), test


def test_the_bench_has_enough_distinct_mutants() -> None:
    assert len(MUTANTS) >= 14
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)


def test_an_anchor_that_does_not_match_fails_loudly(tmp_path: Path) -> None:
    m = MUTANTS[0]
    (tmp_path / m.path).parent.mkdir(parents=True)
    (tmp_path / m.path).write_text("refactored away\n")
    with pytest.raises(AnchorError, match="found 0 times"):
        apply(m, tmp_path)
    (tmp_path / m.path).write_text(m.old + "\n" + m.old + "\n")
    with pytest.raises(AnchorError, match="found 2 times"):
        apply(m, tmp_path)
