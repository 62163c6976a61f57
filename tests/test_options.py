"""Comparison options are defined once: compare(), the jobs and the command line agree on every default."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest

from imgdiff_gpu.cli import cli
from imgdiff_gpu.options import DEFAULTS, VIDEO_SENSITIVITY, CompareOptions
from imgdiff_gpu.pipeline import compare


def test_compare_defaults_are_the_options_defaults():
    parameters = inspect.signature(compare).parameters
    shared = [f.name for f in fields(CompareOptions) if f.name in parameters]
    assert len(shared) >= 8
    for name in shared:
        assert parameters[name].default == getattr(DEFAULTS, name), name


@pytest.mark.parametrize("command", ["compare", "batch", "video"])
def test_every_option_is_a_flag_with_its_default(command):
    params = {p.name: p for p in cli.commands[command].params}
    for option in fields(CompareOptions):
        assert option.name in params, f"{command} has no flag for {option.name}"
        if option.name == "ignore_boxes":
            continue  # a repeatable flag: its default is "none given", whatever click's sentinel for that
        default = params[option.name].default
        expected = (
            VIDEO_SENSITIVITY if (command, option.name) == ("video", "sensitivity") else getattr(DEFAULTS, option.name)
        )
        assert default == expected, (command, option.name)
