"""Comparison options are defined once: compare(), the jobs and the command line agree on every default."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest

from imgdiff_gpu.cli import cli
from imgdiff_gpu.options import DEFAULTS, VIDEO_DEFAULTS, VIDEO_ONLY_OPTIONS, CompareOptions
from imgdiff_gpu.pipeline import compare

REQUIRED_ARGUMENTS = {
    "compare": ["a.png", "b.png"],
    "batch": ["a", "b", "--out", "o"],
    "video": ["a", "b", "--out", "o"],
}


def test_compare_defaults_are_the_options_defaults():
    parameters = inspect.signature(compare).parameters
    shared = [f.name for f in fields(CompareOptions) if f.name in parameters]
    assert len(shared) >= 8
    for name in shared:
        assert parameters[name].default == getattr(DEFAULTS, name), name


@pytest.mark.parametrize("command", sorted(REQUIRED_ARGUMENTS))
def test_every_option_is_a_flag_with_its_default(command):
    """What each command receives when no flag is given is CompareOptions' default (the video command's
    VIDEO_DEFAULTS, which differ in the sensitivity and the clip noise rule alone)."""
    context = cli.commands[command].make_context(command, list(REQUIRED_ARGUMENTS[command]))
    for option in fields(CompareOptions):
        if option.name in VIDEO_ONLY_OPTIONS and command != "video":
            assert option.name not in context.params, f"{command} has a flag for the video-only {option.name}"
            continue
        assert option.name in context.params, f"{command} has no flag for {option.name}"
        given = context.params[option.name]
        expected = getattr(VIDEO_DEFAULTS if command == "video" else DEFAULTS, option.name)
        assert (tuple(given) if option.name == "ignore_boxes" else given) == expected, (command, option.name)


def test_video_defaults_differ_from_the_defaults_in_sensitivity_and_clip_noise_alone():
    differing = {f.name for f in fields(CompareOptions) if getattr(VIDEO_DEFAULTS, f.name) != getattr(DEFAULTS, f.name)}
    assert differing == {"sensitivity", "clip_noise"}
    context = cli.commands["video"].make_context("video", [*REQUIRED_ARGUMENTS["video"], "--no-clip-noise"])
    assert context.params["clip_noise"] is False
