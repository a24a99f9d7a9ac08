"""The dataclass/YAML loader every config in the package goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from vla_wm_ros.config import ConfigError, from_dict, load_yaml, save_yaml, to_dict


@dataclass
class Inner:
    size: int = 8
    kind: Literal["gru", "lstm"] = "gru"

    def validate(self) -> None:
        if self.size <= 0:
            raise ConfigError(f"size must be positive, got {self.size}")


@dataclass
class Outer:
    name: str = "x"
    rate: float = 1.0
    flags: list[int] = field(default_factory=lambda: [1, 2])
    shape: tuple[int, int] = (64, 64)
    inner: Inner = field(default_factory=Inner)
    note: str | None = None


def test_round_trip_through_yaml(tmp_path):
    cfg = from_dict(Outer, {"rate": 3, "inner": {"size": 4, "kind": "lstm"}, "shape": [32, 48]})
    assert cfg.rate == 3.0 and isinstance(cfg.rate, float)
    assert cfg.inner == Inner(4, "lstm") and cfg.shape == (32, 48)
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_yaml(Outer, tmp_path / "c.yaml") == cfg
    assert to_dict(cfg)["inner"] == {"size": 4, "kind": "lstm"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inner": {"sise": 3}}, "inner: unknown key(s) sise"),
        ({"inner": {"size": "big"}}, "inner.size: expected int, got str"),
        ({"inner": {"size": True}}, "inner.size: expected int"),
        ({"inner": {"kind": "rnn"}}, "inner.kind: 'rnn' is not one of 'gru', 'lstm'"),
        ({"inner": {"size": -1}}, "inner: size must be positive, got -1"),
        ({"shape": [1, 2, 3]}, "shape: expected 2 items, got 3"),
        ({"flags": [1, "a"]}, "flags[1]: expected int"),
        ([1, 2], "Outer: expected a mapping"),
    ],
)
def test_errors_name_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, data)
    assert message in str(err.value)


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inner: {size: [}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_yaml(Outer, bad)
    bad.write_text("inner: {size: 0}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: inner: size must be positive"):
        load_yaml(Outer, bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml(Outer, tmp_path / "missing.yaml")
