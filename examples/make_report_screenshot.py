"""Make examples/report.png: the example pair's report.html as headless Chromium shows it.

Needs Debian's chromium and chromium-driver and the test extra (Selenium).
Run: python examples/make_report_screenshot.py
"""

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

HERE = Path(__file__).parent


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp) / "out"
        compare = [sys.executable, "-m", "imgdiff_gpu.cli", "compare", "-q", "--out", str(out)]
        here = os.path.relpath(HERE)  # the page shows the paths as given
        subprocess.run([*compare, f"{here}/left.png", f"{here}/right.png"], check=False)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1100,760",
            "--hide-scrollbars",
            f"--user-data-dir={Path(temp) / 'profile'}",
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.get((out / "report.html").as_uri())
            time.sleep(1)
            driver.find_elements(By.CSS_SELECTOR, "table.regions tbody tr")[0].click()
            driver.find_element(By.CSS_SELECTOR, "button.zoom-fit").click()  # region marked, whole picture
            time.sleep(0.3)
            shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
        finally:
            driver.quit()
    # a 128-colour palette keeps the file small; the page is mostly flat colour
    shot.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(HERE / "report.png", optimize=True)


if __name__ == "__main__":
    main()
