"""Write evalkit's deflator series file from the ONS CSV download of series YBGB.

Source file (committed beside this script, byte for byte as ONS serves it):
  ons_ybgb_release_2025-06-30.csv = ONS time series YBGB, "Gross domestic product at market
  prices: Implied deflator: SA", dataset UKEA, release date 30 June 2025, 2022 = 100, from
  https://www.ons.gov.uk/generator?format=csv&uri=/economy/grossdomesticproductgdp/timeseries/ybgb/ukea
  Read here from the copy committed in Defra-Data-Science-Centre-of-Excellence/DefraUtils,
  data-raw/gdp_deflators.csv at commit 8a30bcaba1b40964a4225fc1cfb2746187728610 (CRAN and
  ONS are not reachable from the build machines). sha256 of the file:
  8f88b110d6a21cd46a81befaf231ed040fdec3edc6e2b477a74a5866e278f442

Usage: python tests/reference/vfm/convert_ons_ybgb.py  (rewrites the shipped series; the test
test_vfm_deflators.py checks the shipped file equals this conversion).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "ons_ybgb_release_2025-06-30.csv"
OUT = HERE.parents[2] / "evalkit" / "vfm" / "data" / "deflators_ons_ybgb_2025-06.csv"

HEADER = """\
# schema: evalkit.deflator-series/v1
# id: ons-ybgb-2025-06
# name: GDP at market prices, implied deflator, seasonally adjusted (ONS series YBGB, dataset UKEA)
# vintage: ONS release of 30 June 2025
# base: 2022 = 100
# source: https://www.ons.gov.uk/economy/grossdomesticproductgdp/timeseries/ybgb/ukea
# copied_from: Defra-Data-Science-Centre-of-Excellence/DefraUtils data-raw/gdp_deflators.csv @ 8a30bcaba1b40964a4225fc1cfb2746187728610
# raw_file_sha256: 8f88b110d6a21cd46a81befaf231ed040fdec3edc6e2b477a74a5866e278f442
# note: HM Treasury publishes "GDP deflators at market prices, and money GDP" from ONS data (financial years
# note2: from ONS L8GG, calendar years from ONS MNF2). That Treasury table (xlsx) could not be read when this
# note3: file was made, so evalkit ships the ONS series YBGB (the same GDP-at-market-prices implied deflator)
# note4: as published, rounded to one decimal. Financial years are derived as the mean of their four quarters.
# note5: A partnership may supply a Treasury vintage in this format, with financial-year rows (e.g. 2015-16).
"""


def convert(raw_text: str) -> str:
    rows = []
    for cells in csv.reader(raw_text.splitlines()):
        if len(cells) == 2 and re.match(r"^\d{4}( Q[1-4])?$", cells[0]):
            rows.append(f"{cells[0]},{cells[1]}")
    return HEADER + "period,index\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    OUT.write_text(convert(RAW.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
