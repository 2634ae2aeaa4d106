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
#: centre's **net** gCO2e/kWh, and the published energy (MWh) and net tCO2e.  For GShard-600B (177) and
#: the Switch Transformer (330) the intensity is Table 4's *net* figure (after the carbon-free energy bought
#: for those data centres), not the grid's gross intensity: these rows reproduce net, not gross, tCO2e.
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


def test_laptop_preset_is_the_studys_manufacturing_figure_whole() -> None:
    # issue #22 item 1: the study's 330 kg is the laptop's manufacture ("la construction", citing Broca 2020),
    # not a life-cycle total: all of it is embodied; O'Connell & Stutz 2010's ~150-200 kg is the band's low end
    laptop = emb.EMBODIED_DEVICES["laptop"]
    assert laptop.embodied_kg_co2e == 330.0 == emb.LAPTOP_MANUFACTURING_KG_CO2E_STUDY
    assert laptop.lifetime_h == pytest.approx(4 * 8760)
    assert laptop.embodied_kg_range == (150.0, 330.0)
    # 330 kg / (4 y × 8760 h × 0.85) = 11.08 g per device-hour
    assert laptop.g_per_device_hour == pytest.approx(330e3 / (4 * 8760 * 0.85))
    assert laptop.g_per_device_hour == pytest.approx(11.08, abs=0.01)
    # band: 150 kg over 5 y at 1.0 .. 330 kg over 3 y at 0.85
    assert laptop.band_g(1.0) == pytest.approx((150e3 / (5 * 8760), 330e3 / (3 * 8760 * 0.85)))


def test_embodied_presets_use_one_utilisation() -> None:
    # issue #22 item 11: utilisation means the same for every preset (Luccioni et al.'s 0.85), band 0.85-1.0
    for device in emb.EMBODIED_DEVICES.values():
        assert device.utilisation == emb.LUCCIONI_2023_UTILISATION == 0.85
        assert device.utilisation_range == (0.85, 1.0)


def test_server_embodied_band_spans_ccf_4y_to_luccioni_6y() -> None:
    server = emb.EMBODIED_DEVICES["apollo_6500_server"]
    assert emb.SERVER_LIFETIME_RANGE_YEARS == (4.0, 6.0)
    lo, hi = server.band_g(1.0)
    assert lo == pytest.approx(2500e3 / (6 * 8760 * 1.0))  # 47.6 g per device-hour
    assert hi == pytest.approx(2500e3 / (4 * 8760 * 0.85))  # 83.9
    assert server.g_per_device_hour == pytest.approx(55.96, abs=0.01)
    assert lo < server.g_per_device_hour < hi


# --------------------------------------------------------------------------- model meter constants (issue #22, item 2)


def test_idle_fraction_uses_cloud_carbon_footprints_own_pairs() -> None:
    from greenbench.meters import model

    # cloud-carbon-footprint @ b7a049c, packages/gcp/src/domain/GcpFootprintEstimationConstants.ts:
    # MIN/MAX_WATTS_BY_COMPUTE_PROCESSOR (whole-server W per vCPU), the seven server CPUs
    assert dict(model.CCF_MIN_MAX_W_PER_VCPU) == {
        "Intel Haswell": (1.00, 4.74), "Intel Broadwell": (0.71, 3.69), "Intel Skylake": (0.65, 4.26),
        "Intel Cascade Lake": (0.64, 3.97), "AMD EPYC 1st Gen (Naples)": (0.82, 2.55),
        "AMD EPYC 2nd Gen (Rome)": (0.47, 1.69), "AMD EPYC 3rd Gen (Milan)": (0.45, 2.02)}
    assert model.CCF_COMMIT.startswith("b7a049c")
    idle = model.IDLE_FRACTION_OF_TDP
    assert idle == pytest.approx(1.00 / 4.74)  # Haswell is the median: 0.211
    assert round(idle, 3) == 0.211
    assert tuple(round(x, 3) for x in model.IDLE_FRACTION_RANGE) == (0.153, 0.322)
    assert "assumption" in model.IDLE_SOURCE and "whole-server" in model.IDLE_SOURCE
    assert "up to 30%" in model.SMT_SOURCE and model.SMT_SIBLING_RANGE == (0.0, 0.35)


# --------------------------------------------------------------------------- attributions (issue #22, items 5-7)


def test_per_op_figures_are_the_studys_not_horowitz() -> None:
    from greensim.architectures import ARCHITECTURES, HOROWITZ_2014_PJ_PER_INSTRUCTION

    assert HOROWITZ_2014_PJ_PER_INSTRUCTION == 70.0
    von_neumann = ARCHITECTURES["von_neumann"]
    assert von_neumann.energy_per_op_j == pytest.approx(1e-9)
    assert von_neumann.source.startswith("~1 nJ per instruction: the study's guide") and "70 pJ" in von_neumann.source
    # 1 nJ per instruction vs 4.6 pJ per fp32 MAC: 217x apart, not comparable
    assert von_neumann.energy_per_op_j / E_MAC_J == pytest.approx(217.4, abs=0.1)


def test_cnn_scenario_keeps_per_instruction_rows_out_of_its_per_mac_table() -> None:
    data = tomllib.loads((SCENARIOS / "cnn_snn.toml").read_text(encoding="utf-8"))
    assert not [p for p in data["project"] if "architecture" in p]
    assert "one inference" not in data["title"] and "10^6 inferences" in data["title"]


def test_four_m_figures_as_quoted_and_beside_google_researchs() -> None:
    from greensim import levers

    assert (levers.PATTERSON_2022_EXAMPLE_ENERGY_FACTOR, levers.PATTERSON_2022_EXAMPLE_CO2E_FACTOR) == (83.0, 747.0)
    assert levers.PATTERSON_2022_GOOGLE_RESEARCH_CO2E_FACTORS == (650.0, 40.0)
    assert "as quoted by the study" in (levers.__doc__ or "")


def test_strubell_figure_and_patterson_factors() -> None:
    from bench import study

    strubell = study.figure("literature.strubell_2019")
    # 626,155 lb CO2e (Strubell et al. 2019, Table 3, Transformer big + NAS) = 284 t, not 300 t
    assert strubell["nas_lb_co2e"] * study.KG_PER_LB / 1e3 == pytest.approx(284.0, abs=0.1)
    nas = study.figure("literature.patterson_2021_nas")
    assert (nas["too_high_google_x"], nas["too_high_average_dc_x"]) == (88.0, 18.7)


# --------------------------------------------------------------------------- bands (issue #22, item 10)


def _band_rows(tmp_path: Path, text: str) -> dict[str, dict]:
    result = run_scenario(load_scenario(_scenario(tmp_path, text)))
    rows = ([result.baseline] if result.baseline else []) + list(result.rows)
    return {r.name: r.to_json() for r in rows}


def test_four_m_rows_carry_the_levers_published_ranges(tmp_path: Path) -> None:
    rows = _band_rows(tmp_path, """
        [source]
        energy_j = 3.6e6
        [baseline]
        region = "FR"
        [[project]]
        name = "accelerator"
        four_m = { machine = 3, mechanization = 1.4 }
        [[project]]
        name = "map"
        four_m = { map = 9 }
        [[project]]
        name = "plain"
    """)
    acc = rows["accelerator"]
    # energy ÷ (3 × 1.4) at the point; band: machine 2-5, mechanization 1.4-2
    assert acc["it_energy_j"] == pytest.approx(3.6e6 / 4.2)
    assert acc["it_energy_low_j"] == pytest.approx(3.6e6 / (5 * 2))
    assert acc["it_energy_high_j"] == pytest.approx(3.6e6 / (2 * 1.4))
    ci = acc["intensity_g_per_kwh"]
    assert acc["co2e_low_g"] == pytest.approx(ci / 10) and acc["co2e_high_g"] == pytest.approx(ci / 2.8)
    assert any("machine 2-5x" in b for b in acc["band_basis"])
    # Map moves CO2e only: map 5-10 around 9
    m = rows["map"]
    assert m["it_energy_low_j"] == m["it_energy_high_j"] == pytest.approx(3.6e6)
    assert m["co2e_g"] == pytest.approx(ci / 9)
    assert (m["co2e_low_g"], m["co2e_high_g"]) == pytest.approx((ci / 10, ci / 5))
    assert rows["plain"]["co2e_low_g"] is None and rows["plain"]["band_basis"] == []


def test_pue_and_spike_rate_ranges_give_bands(tmp_path: Path) -> None:
    rows = _band_rows(tmp_path, """
        [source]
        energy_j = 3.6e6
        [[project]]
        name = "lefdal"
        pue = 1.10
        pue_range = [1.08, 1.15]
        [[project]]
        name = "snn"
        spike_rate = 0.1
        spike_rate_range = [0.05, 0.2]
        timesteps = 4
        macs = 1000
    """)
    lefdal = rows["lefdal"]
    assert lefdal["facility_energy_j"] == pytest.approx(3.6e6 * 1.10)
    assert (lefdal["facility_energy_low_j"], lefdal["facility_energy_high_j"]) == pytest.approx(
        (3.6e6 * 1.08, 3.6e6 * 1.15))
    assert lefdal["co2e_high_g"] / lefdal["co2e_g"] == pytest.approx(1.15 / 1.10)
    snn = rows["snn"]
    lo, hi = snn_vs_ann(1000, 0.05, 4)[1], snn_vs_ann(1000, 0.2, 4)[1]
    assert (snn["it_energy_low_j"], snn["it_energy_high_j"]) == pytest.approx((lo, hi))
    assert snn["it_energy_low_j"] < snn["it_energy_j"] < snn["it_energy_high_j"]


@pytest.mark.parametrize("row, pattern", [
    ('pue = 1.1\npue_range = [1.2, 1.1]\n', r"'a'\.pue_range: expected \[low, high\] with low <= high"),
    ('pue = 1.1\npue_range = [0.9, 1.2]\n', r"'a'\.pue_range: expected a PUE >= 1"),
    ('pue_range = [1.1, 1.2]\n', r"'a'\.pue_range: given without pue"),
    ('pue = 1.1\npue_range = 1.2\n', r"'a'\.pue_range: expected \[low, high\]"),
    ('spike_rate_range = [0.1, 0.2]\n', r"'a'\.spike_rate_range: given without spike_rate"),
    ('spike_rate = 0.1\ntimesteps = 4\nspike_rate_range = [0.1, 2]\n', r"spike_rate_range: expected a fraction"),
])
def test_bad_ranges_are_refused_in_one_line(tmp_path: Path, row: str, pattern: str) -> None:
    path = _scenario(tmp_path, f'[source]\nenergy_j = 1.0\n[[project]]\nname = "a"\n{row}')
    with pytest.raises(ScenarioError, match=pattern) as err:
        load_scenario(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_model_meter_band_of_the_source_reaches_every_row(tmp_path: Path) -> None:
    import json

    energy = {"schema_version": 2, "source": "model", "estimated": True,
              "per_call_j": {"min": 0.9, "median": 1.0, "mean": 1.0, "max": 1.1}, "rounds_j": [1.0],
              "calls": 10, "total_j": 10.0, "power_w": 1.0, "cpu_time_s": 0.1, "co2e_g": 0.0,
              "intensity_g_per_kwh": 475.0, "intensity_label": "WORLD",
              "figures_j": {"allocated_j": 1.5, "marginal_low_j": 0.6, "marginal_high_j": 1.4}}
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"benchmarks": [{"name": "test_x", "fullname": "t::test_x",
                                                   "extra_info": {"energy": energy}}]}))
    rows = _band_rows(tmp_path, f"""
        [source]
        results = "{results}"
        benchmark = "test_x"
        [baseline]
        calls = 100
        [[project]]
        name = "dc"
        pue = 1.5
        [[project]]
        name = "typed in"
        energy_j = 2.0
    """)
    base = rows["baseline (as measured, now, here)"]
    assert (base["it_energy_low_j"], base["it_energy_high_j"]) == pytest.approx((60.0, 140.0))
    assert any("model band 0.6-1.4x" in b for b in base["band_basis"])
    dc = rows["dc"]
    assert (dc["facility_energy_low_j"], dc["facility_energy_high_j"]) == pytest.approx((90.0, 210.0))
    assert rows["typed in"]["co2e_low_g"] is None  # its own energy: the meter's band does not apply


def test_embodied_band_in_json_and_total(tmp_path: Path) -> None:
    rows = _band_rows(tmp_path, """
        [source]
        energy_j = 3.6e6
        [baseline]
        region = "FR"
        [embodied]
        device = "laptop"
        hours_per_call = 1
        [[project]]
        name = "same"
    """)
    same = rows["same"]
    lo, hi = emb.EMBODIED_DEVICES["laptop"].band_g(1.0)
    assert (same["embodied_co2e_low_g"], same["embodied_co2e_high_g"]) == pytest.approx((lo, hi))
    assert same["total_co2e_low_g"] == pytest.approx(same["co2e_g"] + lo)
    assert same["total_co2e_high_g"] == pytest.approx(same["co2e_g"] + hi)


def test_shipped_scenarios_show_bands_in_table_json_and_plot(tmp_path: Path) -> None:
    import io

    from greensim import report

    for name in ("nca_training.toml", "cnn_snn.toml"):
        result = run_scenario(load_scenario(SCENARIOS / name))
        banded = [r for r in result.rows if r.band is not None]
        assert banded, name
        buf = io.StringIO()
        report.render_table(result, file=buf)
        assert "CO2e band" in buf.getvalue() and "band from" in buf.getvalue()
        data = result.to_json()["projections"]
        assert any(p["co2e_low_g"] is not None for p in data)
        png = tmp_path / f"{name}.png"
        report.plot(result, png)
        assert png.stat().st_size > 1000
