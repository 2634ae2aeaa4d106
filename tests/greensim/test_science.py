"""Scientific corrections (issue #14): published rows pinned, double counts refused,
SNN first layer dense, one SRAM energy, intensity bases labelled, embodied carbon."""

from __future__ import annotations

import textwrap
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import greensim as gs
from greenbench.errors import ConfigError, ScenarioError
from greensim import embodied as emb
from greensim.architectures import HOROWITZ_45NM
from greensim.levers import FOUR_M_MODEL_RANGE_GOOGLE_BLOG_2022, FOUR_M_RANGES
from greensim.scenario import load_scenario, run_scenario
from greensim.snn import (
    DAMPFHOFER_2023_COMPETITIVE_SPIKES_PER_SYNAPSE,
    E_AC_J,
    E_MAC_J,
    E_SRAM_32B_J,
    MemoryAwareSnnModel,
    snn_vs_ann,
)

SCENARIOS = Path(str(resources.files("greensim").joinpath("scenarios")))


def _scenario(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- Patterson et al. 2021, Table 4

#: Patterson et al. 2021 ("Carbon Emissions and Large Neural Network Training", arXiv:2104.10350),
#: Table 4: chips, training days, measured average system power per chip (W), PUE, the data
#: centre's net gCO2e/kWh, and the published energy (MWh) and net tCO2e.
PATTERSON_2021_TABLE4 = [
    # model,               chips,  days, W,   PUE,  g/kWh, MWh,    tCO2e
    ("T5",                   512, 20.0, 310, 1.12, 545, 85.7, 46.7),
    ("Meena",               1024, 30.0, 289, 1.09, 415, 232.0, 96.4),
    ("GShard-600B",         1024, 3.1, 288, 1.09, 177, 24.1, 4.3),
    ("Switch Transformer",  1024, 27.0, 245, 1.10, 330, 179.0, 59.1),
    ("GPT-3",              10000, 14.8, 330, 1.10, 429, 1287.0, 552.1),
]


@pytest.mark.parametrize("row", PATTERSON_2021_TABLE4, ids=[row[0] for row in PATTERSON_2021_TABLE4])
def test_patterson_2021_table4_rows(row: tuple[str, int, float, float, float, float, float, float]) -> None:
    # the table prints training days to 0.1 day (GShard: 3.1 d), so the rows agree to ~2 %
    _, chips, days, watts, pue, ci, mwh, t_co2e = row
    f = gs.accelerator_footprint(chips, days * 24, watts, pue, ci)
    assert f.energy_kwh / 1e3 == pytest.approx(mwh, rel=0.02)
    assert f.co2e_t == pytest.approx(t_co2e, rel=0.02)


def test_gpt3_study_figure_is_about_8x_patterson() -> None:
    # the study's guide quotes "≈10 GWh" for GPT-3; Patterson et al. 2021 Table 4: 1,287 MWh, 552 tCO2e
    gpt3 = gs.accelerator_footprint(10_000, 14.8 * 24, 330, 1.10, 429)
    assert 10_000.0 / (gpt3.energy_kwh / 1e3) == pytest.approx(7.8, abs=0.1)


# --------------------------------------------------------------------------- double counts


@pytest.mark.parametrize("row, first, second", [
    ('architecture = "neuromorphic"\nfour_m = { machine = 3 }\n', "four_m.machine", "architecture"),
    ('spike_rate = 0.1\ntimesteps = 4\nfour_m = { model = 10 }\n', "four_m.model", "spike_rate"),
])
def test_double_counted_levers_are_refused_naming_file_and_both_keys(tmp_path: Path, row: str, first: str,
                                                                    second: str) -> None:
    path = _scenario(tmp_path, f'[source]\nenergy_j = 1.0\n[[project]]\nname = "a"\n{row}')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and first in message and second in message and "double-counts" in message


def test_levers_on_other_keys_still_stack(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [source]
        energy_j = 100.0
        [[project]]
        name = "accelerator"
        four_m = { machine = 4 }
        [[project]]
        name = "snn on an accelerator"
        spike_rate = 0.1
        timesteps = 4
        four_m = { machine = 2 }
    """)
    rows = {r.name: r for r in run_scenario(load_scenario(path)).rows}
    assert rows["accelerator"].it_energy_j == pytest.approx(25.0)
    ann, snn = snn_vs_ann(1.0, 0.1, 4)
    assert rows["snn on an accelerator"].it_energy_j == pytest.approx(100.0 * snn / ann / 2)


# --------------------------------------------------------------------------- SNN: first layer, SRAM


def test_snn_first_layer_is_charged_as_dense_macs() -> None:
    macs, first, rate, steps = 2_831_744.0, 194_688.0, 0.1, 4.0
    ann, snn = snn_vs_ann(macs, rate, steps, first_layer_macs=first)
    assert ann == pytest.approx(macs * E_MAC_J)
    assert snn == pytest.approx(first * E_MAC_J + rate * steps * (macs - first) * E_AC_J)
    assert snn > snn_vs_ann(macs, rate, steps)[1]  # separating the first layer costs the SNN
    # an SNN whose every layer were "first" costs exactly the ANN
    assert snn_vs_ann(macs, rate, steps, first_layer_macs=macs) == pytest.approx((ann, ann))
    mem = MemoryAwareSnnModel()
    ann_m, snn_m = mem.energies_j(macs, rate, steps, first_layer_macs=first)
    dense = E_MAC_J + 2 * E_SRAM_32B_J
    assert ann_m == pytest.approx(macs * dense)
    assert snn_m == pytest.approx(first * dense + rate * steps * (macs - first) * (E_AC_J + 3 * E_SRAM_32B_J))
    with pytest.raises(ConfigError, match="first_layer_macs: expected at most macs"):
        snn_vs_ann(10.0, 0.1, 4, first_layer_macs=11.0)


def test_scenario_snn_rows_take_first_layer_macs(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [[project]]
        name = "snn"
        spike_rate = 0.1
        timesteps = 4
        macs = 1000
        first_layer_macs = 100
    """)
    row = run_scenario(load_scenario(path)).rows[0]
    assert row.it_energy_j == pytest.approx(100 * E_MAC_J + 0.4 * 900 * E_AC_J)
    assert any("first layer 100 MACs dense" in n for n in row.notes)
    bad = _scenario(tmp_path, '[[project]]\nname = "a"\nspike_rate = 0.1\ntimesteps = 4\nfirst_layer_macs = 5\n',
                    "bad.toml")
    with pytest.raises(ScenarioError, match=r"'a'\.first_layer_macs: expected macs too"):
        load_scenario(bad)


def test_one_sram_energy_within_a_scenario(tmp_path: Path) -> None:
    # 5 pJ per 32-bit access = half of Horowitz's 8 KB SRAM 64-bit read = Han et al. 2015 Table 1
    sram_j = E_SRAM_32B_J
    assert sram_j == pytest.approx(HOROWITZ_45NM.sram_8kb_read_64b_pj / 2 * 1e-12)
    assert sram_j == pytest.approx(5e-12)
    path = _scenario(tmp_path, """
        [[project]]
        name = "ann"
        op_mix = { fp32_mac = 1000, sram_1mb_read_64b = 1000 }
        [[project]]
        name = "snn"
        spike_rate = 0.1
        timesteps = 4
        macs = 1000
        snn_model = "memory"
    """)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and "sram_1mb_read_64b" in str(err.value)
    assert "one SRAM energy" in str(err.value)


def test_shipped_cnn_scenario_ann_row_matches_the_memory_model_ann() -> None:
    result = run_scenario(load_scenario(SCENARIOS / "cnn_snn.toml"))
    rows = {r.name: r for r in result.rows}
    ann_row = next(r for name, r in rows.items() if name.startswith("ANN, fp32 MACs + 2 operand reads"))
    ann_mem, _ = MemoryAwareSnnModel().energies_j(2_831_744, 0.1, 4)
    assert ann_row.it_energy_j == pytest.approx(ann_mem * 1e6)
    data = tomllib.loads((SCENARIOS / "cnn_snn.toml").read_text(encoding="utf-8"))
    snn_rows = [p for p in data["project"] if "spike_rate" in p]
    assert snn_rows and all(p["first_layer_macs"] == 194_688 for p in snn_rows)


def test_dampfhofer_figures_are_kept_as_quoted_beside_the_papers_conclusion() -> None:
    assert dict(gs.DAMPFHOFER_2023) == {0.1: 3.6, 0.05: 7.3}
    assert DAMPFHOFER_2023_COMPETITIVE_SPIKES_PER_SYNAPSE == (0.15, 1.38)


# --------------------------------------------------------------------------- architecture what-ifs


def test_shipped_knn_scenario_has_no_per_op_architecture_rows() -> None:
    data = tomllib.loads((SCENARIOS / "knn.toml").read_text(encoding="utf-8"))
    assert not [p for p in data["project"] if "architecture" in p]


def test_relative_architecture_rows_are_marked_illustrative(tmp_path: Path) -> None:
    path = _scenario(tmp_path, '[source]\nenergy_j = 1.0\n[[project]]\nname = "h"\narchitecture = "harvard"\n')
    row = run_scenario(load_scenario(path)).rows[0]
    assert any(n.startswith("ILLUSTRATIVE, not a projection") for n in row.notes)


# --------------------------------------------------------------------------- 4M attributions


def test_four_m_model_range_cited_to_each_source() -> None:
    assert FOUR_M_RANGES["model"] == (5.0, 10.0)  # the paper as quoted (and the study's guide)
    assert FOUR_M_MODEL_RANGE_GOOGLE_BLOG_2022 == (3.0, 10.0)  # Google AI blog, Feb. 2022


# --------------------------------------------------------------------------- intensity bases


def test_mixed_intensity_bases_are_labelled(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [source]
        energy_j = 3.6e6
        [baseline]
        region = "WORLD"
        [[project]]
        name = "france"
        region = "FR"
        [[project]]
        name = "gb window"
        window = { region = "GB", start = 2023-06-01T00:00:00Z, job_h = 1, deadline_h = 24 }
    """)
    result = run_scenario(load_scenario(path))
    rows = {r.name: r for r in result.rows}
    assert result.baseline is not None and result.baseline.intensity_basis.startswith("production-based")
    assert rows["gb window"].intensity_basis == "consumption-based, life cycle"
    assert any("MIXED INTENSITY BASIS" in n for n in rows["gb window"].notes)
    assert not any("MIXED" in n for n in rows["france"].notes)
    assert any("intensity bases mixed" in n for n in result.notes)
    assert result.to_json()["projections"][1]["intensity_basis"] == "consumption-based, life cycle"


def test_one_basis_scenario_has_no_basis_note(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [source]
        energy_j = 3.6e6
        [baseline]
        region = "WORLD"
        [[project]]
        name = "france"
        region = "FR"
    """)
    assert not any("bases mixed" in n for n in run_scenario(load_scenario(path)).notes)


# --------------------------------------------------------------------------- embodied carbon


def test_embodied_g_amortises_over_the_used_lifetime() -> None:
    # 150 kg over 6 years at 85 % use: 150e3 / (6 × 8760 × 0.85) = 3.357 g per device-hour
    assert gs_embodied(150.0, 6.0, 1.0, 0.85) == pytest.approx(150e3 / (6 * 8760 * 0.85))
    assert gs_embodied(330.0, 4.0, 4 * 8760, 1.0) == pytest.approx(330e3)
    assert gs_embodied(100.0, 1.0, 0.0) == 0.0
    with pytest.raises(ConfigError, match="utilisation"):
        gs_embodied(100.0, 1.0, 1.0, 0.0)
    with pytest.raises(ConfigError, match="lifetime_years"):
        gs_embodied(100.0, 0.0, 1.0)


def gs_embodied(*args: float) -> float:
    return emb.embodied_g(*args)


def test_embodied_reproduces_bloom_11_2_t() -> None:
    # Luccioni, Viguier & Ligozat 2023: 1,082,990 A100-hours, 8 per server, 150 kg per GPU, 2,500 kg
    # per server, 6 years at 85 % -> 3.64 t (GPUs) + 7.57 t (servers) = 11.2 t CO2e
    gpus = emb.EMBODIED_DEVICES["a100_gpu"].embodied_g(emb.BLOOM_GPU_HOURS)
    servers = emb.EMBODIED_DEVICES["apollo_6500_server"].embodied_g(emb.BLOOM_GPU_HOURS / emb.BLOOM_GPUS_PER_SERVER)
    assert gpus / 1e6 == pytest.approx(3.64, abs=0.01)
    assert servers / 1e6 == pytest.approx(7.57, abs=0.01)
    assert (gpus + servers) / 1e6 == pytest.approx(emb.BLOOM_EMBODIED_T_CO2E, abs=0.05)


def test_scenario_embodied_table_adds_beside_operational(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [source]
        energy_j = 3.6e6
        [baseline]
        region = "FR"
        calls = 2
        [embodied]
        device_kg_co2e = 87.6
        lifetime_years = 1
        hours_per_call = 0.5
        [[project]]
        name = "same"
        [[project]]
        name = "on a laptop"
        embodied = { device = "laptop", hours_per_call = 1 }
    """)
    result = run_scenario(load_scenario(path))
    assert result.baseline is not None
    # 87.6 kg over 8760 h = 10 g per device-hour; 2 calls × 0.5 h = 1 h
    assert result.baseline.embodied_co2e_g == pytest.approx(10.0)
    rows = {r.name: r for r in result.rows}
    assert rows["same"].embodied_co2e_g == pytest.approx(10.0)
    assert rows["same"].total_co2e_g == pytest.approx(rows["same"].co2e_g + 10.0)
    assert rows["same"].co2e_factor_vs_baseline == pytest.approx(1.0)  # gains stay operational
    laptop = emb.EMBODIED_DEVICES["laptop"]
    assert rows["on a laptop"].embodied_co2e_g == pytest.approx(2 * laptop.g_per_device_hour)
    assert result.to_json()["projections"][0]["embodied_co2e_g"] == pytest.approx(10.0)


@pytest.mark.parametrize("table, pattern", [
    ('device = "laptop"\ndevice_kg_co2e = 3\nhours_per_call = 1\n', r"\[embodied\]\.device_kg_co2e: conflicts"),
    ('device = "toaster"\nhours_per_call = 1\n', r"\[embodied\]\.device: .*unknown 'toaster'"),
    ('device_kg_co2e = 3\nhours_per_call = 1\n', r"\[embodied\]: expected device = one of"),
    ('device = "laptop"\n', r"\[embodied\]\.hours_per_call: missing"),
    ('device = "laptop"\nhours_per_call = 1\nlifetime_h = 3\n', r"\[embodied\]: unknown key 'lifetime_h'"),
])
def test_bad_embodied_tables_are_refused(tmp_path: Path, table: str, pattern: str) -> None:
    path = _scenario(tmp_path, f'[embodied]\n{table}[[project]]\nname = "a"\n')
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path)


def test_laptop_preset_takes_the_manufacturing_share_of_the_life_cycle_figure() -> None:
    laptop = emb.EMBODIED_DEVICES["laptop"]
    assert laptop.embodied_kg_co2e == pytest.approx(emb.LAPTOP_LIFECYCLE_KG_CO2E_STUDY / 2)
    assert laptop.lifetime_h == pytest.approx(4 * 8760)
