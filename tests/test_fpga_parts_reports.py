"""Parts table, vendor report parsing, and the tool-less synthesis path (fast, no TensorFlow)."""

from __future__ import annotations

import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.fpga import vendor
from fpgatag.fpga.parts import PARTS, known_parts, resolve_part


def test_short_names_expand_to_full_part_strings():
    assert resolve_part("xcvu9p").full == "xcvu9p-flga2104-2L-e"
    for name in ("xcvu9p", "xcvu13p", "xcu250", "xcku115", "xczu9eg"):
        p = resolve_part(name)
        assert p.dsp > 0 and p.lut > 0 and p.ff > 0 and p.bram18 > 0
    # data-sheet totals of the trigger part
    assert resolve_part("XCVU9P").totals() == {"dsp": 6840, "lut": 1182240, "ff": 2364480, "bram18": 4320}


def test_full_part_string_is_kept_as_given_with_its_device_totals():
    p = resolve_part("xcvu9p-flgb2104-2-i")
    assert p.full == "xcvu9p-flgb2104-2-i"
    assert p.dsp == PARTS["xcvu9p"].dsp
    q = resolve_part("xc7a35t-cpg236-1")          # a device not in the table: accepted, totals unknown
    assert q.full == "xc7a35t-cpg236-1" and q.dsp == 0


def test_unknown_part_lists_known_ones():
    with pytest.raises(FpgatagError) as exc:
        resolve_part("xcvu99")
    msg = str(exc.value)
    assert "xcvu99" in msg
    for name in known_parts():
        assert name in msg


CSYNTH_XML = """<?xml version="1.0" encoding="UTF-8"?>
<profile>
  <ReportVersion><Version>2024.1</Version></ReportVersion>
  <UserAssignments>
    <unit>ns</unit><ProductFamily>virtexuplus</ProductFamily><Part>xcvu9p-flga2104-2L-e</Part>
    <TopModelName>myproject</TopModelName><TargetClockPeriod>5.00</TargetClockPeriod>
  </UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><unit>ns</unit><EstimatedClockPeriod>4.371</EstimatedClockPeriod></SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency>
      <unit>clock cycles</unit><Best-caseLatency>12</Best-caseLatency><Average-caseLatency>13</Average-caseLatency>
      <Worst-caseLatency>14</Worst-caseLatency><Interval-min>1</Interval-min><Interval-max>1</Interval-max>
    </SummaryOfOverallLatency>
  </PerformanceEstimates>
  <AreaEstimates>
    <Resources><BRAM_18K>8</BRAM_18K><DSP>1502</DSP><FF>9363</FF><LUT>101839</LUT><URAM>0</URAM></Resources>
    <AvailableResources><BRAM_18K>4320</BRAM_18K><DSP>6840</DSP><FF>2364480</FF><LUT>1182240</LUT><URAM>960</URAM></AvailableResources>
  </AreaEstimates>
</profile>
"""

VIVADO_XML = CSYNTH_XML.replace("<DSP>1502</DSP>", "<DSP48E>3915</DSP48E>").replace("<DSP>6840</DSP>", "<DSP48E>6840</DSP48E>")

SYNTH_RPT = """Copyright 1986-2020 Xilinx, Inc. All Rights Reserved.
| Design State : Synthesized
1. CLB Logic
------------
+----------------------------+-------+-------+-----------+-------+
|          Site Type         |  Used | Fixed | Available | Util% |
+----------------------------+-------+-------+-----------+-------+
| CLB LUTs*                  | 123948 |     0 |   1728000 |  7.17 |
|   LUT as Logic             | 123900 |     0 |   1728000 |  7.17 |
| CLB Registers              |  43435 |     0 |   3456000 |  1.26 |
+----------------------------+-------+-------+-----------+-------+
2. BLOCK RAM TILE
-----------------
+-------------------+------+-------+-----------+-------+
|     Site Type     | Used | Fixed | Available | Util% |
+-------------------+------+-------+-----------+-------+
| Block RAM Tile    |   42 |     0 |      2688 |  1.56 |
|   RAMB36/FIFO*    |   40 |     0 |      2688 |  1.49 |
+-------------------+------+-------+-----------+-------+
3. ARITHMETIC
-------------
+----------------+------+-------+-----------+-------+
|    Site Type   | Used | Fixed | Available | Util% |
+----------------+------+-------+-----------+-------+
| DSPs           | 5386 |     0 |     12288 | 43.83 |
|   DSP48E2 only | 5386 |       |           |       |
+----------------+------+-------+-----------+-------+
"""


def test_parse_csynth_xml_vitis_and_vivado(tmp_path):
    f = tmp_path / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    f.parent.mkdir(parents=True)
    f.write_text(CSYNTH_XML)
    r = vendor.parse_csynth_xml(f)
    assert (r["latency_cycles"], r["ii"], r["dsp"], r["lut"], r["ff"], r["bram18"]) == (14, 1, 1502, 101839, 9363, 8)
    assert r["latency_best_cycles"] == 12 and r["estimated_clock_ns"] == pytest.approx(4.371)
    assert r["part"] == "xcvu9p-flga2104-2L-e" and r["available"]["DSP"] == 6840
    assert vendor.find_reports(tmp_path)["csynth"] == f
    g = tmp_path / "vivado.xml"
    g.write_text(VIVADO_XML)
    assert vendor.parse_csynth_xml(g)["dsp"] == 3915


def test_parse_bad_report_is_a_user_error(tmp_path):
    f = tmp_path / "x_csynth.xml"
    f.write_text("<profile><nothing/></profile>")
    with pytest.raises(FpgatagError, match="x_csynth.xml"):
        vendor.parse_csynth_xml(f)
    f.write_text("not xml at all")
    with pytest.raises(FpgatagError, match="x_csynth.xml"):
        vendor.parse_csynth_xml(f)


def test_parse_vivado_synth_rpt(tmp_path):
    f = tmp_path / "vivado_synth.rpt"
    f.write_text(SYNTH_RPT)
    r = vendor.parse_vivado_synth_rpt(f)
    assert (r["lut"], r["ff"], r["bram18"], r["dsp"]) == (123948, 43435, 84, 5386)


def test_no_vendor_tool_on_this_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert vendor.find_tool("Vitis") is None and vendor.find_tool("Vivado") is None
    from fpgatag.core.errors import ToolNotFoundError

    with pytest.raises(ToolNotFoundError, match="vitis"):
        vendor.run_synthesis(tmp_path, "Vitis")
