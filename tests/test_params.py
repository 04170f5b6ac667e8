"""The typed parameter fields shared by the UI, the CLI and the API."""

import argparse

import pytest

from abysz_lab import params as prm
from abysz_lab.dfi import DFIParams
from abysz_lab.errors import InputError


def test_specs_follow_declaration_order_and_carry_ranges():
    specs = prm.specs(DFIParams)
    names = [s.name for s in specs]
    assert names[:3] == ["tolerance", "expand", "smooth"]
    tol = specs[0]
    assert (tol.minimum, tol.maximum, tol.step, tol.default) == (0.0, 20.0, 0.5, 5.0)
    assert "DFI Strength" in tol.original
    assert all(s.help and s.label for s in specs)


def test_out_of_range_value_names_the_field_and_the_range():
    with pytest.raises(InputError, match=r"Tolerance \(tolerance\) must be between 0 and 20, got 25"):
        DFIParams(tolerance=25)


def test_even_kernel_size_is_refused():
    with pytest.raises(InputError, match="odd"):
        DFIParams(smooth=4)


def test_whole_number_required_for_integer_fields():
    with pytest.raises(InputError, match="whole number"):
        prm.from_mapping(DFIParams, {"expand": 2.5})


def test_unknown_name_is_reported_not_ignored():
    with pytest.raises(InputError, match="Unknown parameter.*tolerence"):
        prm.from_mapping(DFIParams, {"tolerence": 4})


def test_cli_flags_are_generated_and_unset_flags_keep_defaults():
    parser = argparse.ArgumentParser()
    prm.add_arguments(parser, DFIParams)
    ns = parser.parse_args(["--tolerance", "6.5", "--inter-denoise-every", "2"])
    params = prm.from_namespace(DFIParams, ns)
    assert params.tolerance == 6.5
    assert params.inter_denoise_every == 2
    assert params.expand == DFIParams().expand
    assert {n: v for n, v, _ in prm.iter_changed(params)} == {"tolerance": 6.5, "inter_denoise_every": 2}


def test_as_dict_round_trips():
    params = DFIParams(tolerance=7, expand=3)
    assert prm.from_mapping(DFIParams, prm.as_dict(params)) == params


def test_expand_help_states_the_growth_expand_really_gives():
    import re

    import numpy as np

    from abysz_lab.dfi import expand_moving

    help_text = next(s.help for s in prm.specs(DFIParams) if s.name == "expand")
    claims = {int(n): int(px) for n, px in re.findall(r"(\d+) (?:grows them )?by (\d+) px", help_text)}
    assert claims == {3: 1, 9: 4}  # the help gives examples; "grow by this many pixels" would claim 3 -> 3
    for size, pixels in claims.items():
        mask = np.full((21, 21), 255, np.uint8)
        mask[10, 10] = 0  # one moving pixel
        rows = np.flatnonzero((expand_moving(mask, size) == 0).any(axis=1))
        assert (10 - rows.min(), rows.max() - 10) == (pixels, pixels)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(5.0, "5"), (0.5, "0.5"), (1e308, "1e+308"), (-3, "-3"), (10**400, "about 1e+400"), (0.1 + 0.2, "0.3")],
)
def test_numbers_in_messages_are_readable(value, shown):
    assert prm.format_value(value) == shown


def test_help_lists_choices_and_the_default_even_with_a_custom_default_text():
    from abysz_lab.video import ExtractParams

    parser = argparse.ArgumentParser()
    prm.add_arguments(parser, ExtractParams, defaults={"fps": "default: the video's own"})
    text = " ".join(parser.format_help().split())
    assert "--image-format {png,jpg,webp}" in text
    assert "[default png]" in text
    assert "[0..240, default: the video's own]" in text


def test_ui_help_speaks_of_the_ui_and_the_command_line_keeps_its_flags():
    """The playground strength help once told UI users to "leave it out on the command line"."""
    import argparse

    from abysz_lab import analysis, video
    from abysz_lab.playground import PlaygroundParams

    classes = (DFIParams, PlaygroundParams, analysis.AnalysisParams, video.ExtractParams, video.AssembleParams)
    every = [s for cls in classes for s in prm.specs(cls)]
    assert [s.name for s in every if "--" in s.help or "command line" in s.help] == []
    parser = argparse.ArgumentParser()
    prm.add_arguments(parser, PlaygroundParams)
    strength = next(a for a in parser._actions if a.dest == "strength")
    assert "--list-presets" in strength.help
    assert "Leave it out" in strength.help
