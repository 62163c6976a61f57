"""report.html: the page as written (CSP, escaping, relative pictures) and in headless Chromium.

The browser tests open the pages from disk in Debian's Chromium through
Selenium and check what a person would see: every picture decodes, the swipe
slider and the status filter change what is shown, zoom and pan stay in step,
the console stays free of errors, and a file named like markup stays text.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import platform
import re
import shutil
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from click.testing import CliRunner
from clips import VIDEO_CHANGED, write_marked_video
from PIL import Image

from imgdiff_gpu.cli import cli
from imgdiff_gpu.html_report import compare_html, render_page, score_plot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE = "<img src=x onerror=alert(1)>.png"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "out"
    assert run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", out).exit_code == 1
    return out


@pytest.fixture(scope="module")
def batched(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    left, right = root / "left", root / "right"
    (left / "sub").mkdir(parents=True)
    (right / "sub").mkdir(parents=True)
    for name, a, b in [
        ("same.png", "left.png", "left.png"),
        (HOSTILE, "left.png", "right.png"),
        ("sub/odd #?%20 name.png", "left.png", "right.png"),
    ]:
        shutil.copy(EXAMPLES / a, left / name)
        shutil.copy(EXAMPLES / b, right / name)
    shutil.copy(EXAMPLES / "left.png", left / "only-left.png")
    shutil.copy(EXAMPLES / "left.png", left / "broken.png")
    (right / "broken.png").write_bytes((EXAMPLES / "right.png").read_bytes()[:4000])
    out = root / "out"
    assert run("batch", left, right, "--out", out, "-q").exit_code == 2
    return out


@pytest.fixture(scope="module")
def videoed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video")
    a = write_marked_video(root / "a.mkv", set())
    b = write_marked_video(root / "b.mkv", VIDEO_CHANGED)
    out = root / "out"
    assert run("video", a, b, "--out", out, "-q", "--device", "cpu").exit_code == 1
    return out


# ---- the page as written ----


def _inline(page: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
    assert match, tag
    return match.group(1)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.mark.parametrize("which", ["compared", "batched", "videoed"])
def test_csp_allows_only_the_inline_script_and_style_and_nothing_remote(which, request):
    page = (request.getfixturevalue(which) / "report.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    csp = csp.replace("&#x27;", "'")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'{_sha256(_inline(page, 'script'))}'"
    assert directives["style-src"] == f"'{_sha256(_inline(page, 'style'))}'"
    assert directives["img-src"] == "'self' file:"
    assert "unsafe" not in csp
    # the only URL on the page is the SVG namespace, which is a name and never fetched
    assert set(re.findall(r"\b[a-z]+://[^\s\"'<>]*", page)) <= {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)


def test_input_strings_cannot_leave_the_data_block():
    nasty = '</script><script>alert(1)</script> @DATA@ @SCRIPT@ <!-- & "'
    report = {"left": nasty, "right": HOSTILE, "regions": [], "outputs": [], "score": float("nan")}
    page = compare_html(report)
    assert page.count("<script") == 2 and page.count("</script>") == 2
    block = re.search(r'<script type="application/json" id="imgdiff-data">(.*?)</script>', page, re.S).group(1)
    embedded = json.loads(block)
    assert embedded["report"]["left"] == nasty and embedded["report"]["right"] == HOSTILE
    assert embedded["report"]["score"] is None  # NaN, which JSON.parse would refuse
    title = render_page("compare", HOSTILE + " @DATA@", {"report": report})
    assert "<title>&lt;img src=x onerror=alert(1)&gt;.png @DATA@</title>" in title


def test_batch_page_escapes_the_hostile_file_name(batched):
    page = (batched / "report.html").read_text()
    assert "<img src=x" not in page
    assert "\\u003cimg src=x onerror=alert(1)\\u003e.png" in page
    pair_page = (batched / "pairs" / HOSTILE / "report.html").read_text()
    assert "<img src=x" not in pair_page


def test_pictures_are_relative_files_inside_the_output_folder(compared, batched, videoed):
    report = json.loads((compared / "report.json").read_text())
    assert "report.html" in report["outputs"]
    for name in report["outputs"]:
        assert (compared / name).is_file()
    embedded = json.loads(
        re.search(r'id="imgdiff-data">(.*?)</script>', (batched / "report.html").read_text()).group(1)
    )
    for entry in embedded["pairs"].values():
        for key in ("href", "thumb"):
            if key in entry:
                assert not entry[key].startswith("/") and (batched / entry[key]).is_file()
    embedded = json.loads(
        re.search(r'id="imgdiff-data">(.*?)</script>', (videoed / "report.html").read_text()).group(1)
    )
    assert [w["frame"] for w in embedded["worst"]] and all((videoed / w["base"]).is_dir() for w in embedded["worst"])


def test_score_plot_keeps_a_one_frame_dip_when_bucketed():
    class Frame:
        def __init__(self, index, score, different):
            self.index, self.score, self.different = index, score, different

    frames = [Frame(i, 1.0, False) for i in range(10_000)]
    frames[5_001] = Frame(5_001, 0.5, True)
    plot = score_plot(frames, limit=1000)
    assert len(plot["frames"]) == 1000 and plot["bucket"] == 10
    assert min(plot["scores"]) == 0.5 and plot["flagged"] == [5_001]


# ---- in the browser ----


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(
            "needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): "
            "apt-get install chromium chromium-driver (.ci/run does)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def _wait(driver, script: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def _open(driver, page: Path) -> None:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(page.as_uri())
    _wait(driver, "return document.documentElement.dataset.ready === 'true'")
    _wait(driver, "return Array.from(document.images).every((i) => i.complete)")


def _check_images_and_console(driver, folder: Path) -> int:
    images = driver.execute_script(
        "return Array.from(document.images).map((i) => [i.src, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    for src, complete, width, height in images:
        assert complete and width > 0 and height > 0, f"{src} did not decode"
        local = Path(unquote(urlsplit(src).path))
        assert local.is_relative_to(folder) and local.is_file(), f"{src} is not a file inside the output folder"
    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == [], errors
    return len(images)


def _no_alert(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def _shot(element) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")).astype(np.int16)


@pytest.mark.browser
def test_compare_page_in_chromium(browser, compared):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, compared / "report.html")
    assert _check_images_and_console(browser, compared) == 6  # left and right in each of side by side, overlay, swipe
    assert "4 region(s)" in browser.find_element(By.ID, "subtitle").text
    rows = browser.find_elements(By.CSS_SELECTOR, "table.regions tbody tr")
    assert len(rows) == 4

    def transforms():
        return browser.execute_script(
            "return Array.from(document.querySelectorAll('.stage')).map((s) => s.style.transform)"
        )

    # choosing a region zooms every view onto it, in step, and marks it
    fitted = transforms()
    rows[1].click()
    zoomed = transforms()
    assert len(set(zoomed)) == 1 and zoomed != fitted
    assert len(browser.find_elements(By.CSS_SELECTOR, "rect.selected[data-region='1']")) == 4  # in every view
    assert "selected" in rows[1].get_attribute("class")

    # dragging one view pans them all
    viewport = browser.find_elements(By.CSS_SELECTOR, ".views[data-mode='side'] .viewport")[0]
    ActionChains(browser).move_to_element(viewport).click_and_hold().move_by_offset(40, 25).release().perform()
    panned = transforms()
    assert len(set(panned)) == 1 and panned != zoomed
    browser.find_element(By.CSS_SELECTOR, "button.zoom-fit").click()

    # the swipe slider changes what is shown
    browser.find_element(By.CSS_SELECTOR, "button[data-value='swipe']").click()
    swipe_view = browser.find_element(By.CSS_SELECTOR, ".views[data-mode='swipe'] .viewport")
    assert swipe_view.is_displayed()
    slider = browser.find_element(By.CSS_SELECTOR, "input.swipe")
    slider.send_keys(Keys.HOME)
    all_right = _shot(swipe_view)
    clip_right = browser.execute_script("return document.querySelector('img.swipe-right').style.clipPath")
    slider.send_keys(Keys.END)
    all_left = _shot(swipe_view)
    clip_left = browser.execute_script("return document.querySelector('img.swipe-right').style.clipPath")
    assert clip_right != clip_left
    assert (np.abs(all_right - all_left).max(axis=2) > 40).sum() > 200  # the changed regions, seen

    # overlay: opacity and blink act on the right-hand picture
    browser.find_element(By.CSS_SELECTOR, "button[data-value='overlay']").click()
    browser.find_element(By.CSS_SELECTOR, "input.opacity").send_keys(Keys.END)
    assert (
        browser.execute_script(
            "return document.querySelector(\".views[data-mode='overlay'] img:nth-of-type(2)\").style.opacity"
        )
        == "1"
    )
    browser.find_element(By.CSS_SELECTOR, "input.blink").click()
    seen = {
        browser.execute_script(
            "return document.querySelector(\".views[data-mode='overlay'] img:nth-of-type(2)\").style.visibility"
        )
        for _ in range(30)
        if time.sleep(0.05) is None
    }
    assert seen == {"", "hidden"}

    # the other right-hand pictures decode too
    for option in browser.find_elements(By.CSS_SELECTOR, "select.right-picture option"):
        option.click()
        _wait(browser, "return Array.from(document.images).every((i) => i.complete)")
        _check_images_and_console(browser, compared)


@pytest.mark.browser
def test_pictures_of_different_sizes_are_shown_side_by_side_only(browser, tmp_path):
    from selenium.webdriver.common.by import By

    small = tmp_path / "small.png"
    Image.open(EXAMPLES / "right.png").resize((200, 133)).save(small)
    out = tmp_path / "out"
    assert run("compare", EXAMPLES / "left.png", small, "--out", out, "-q").exit_code == 1
    _open(browser, out / "report.html")
    assert _check_images_and_console(browser, out) == 6
    assert "sizes differ" in browser.find_element(By.CSS_SELECTOR, "p.empty").text
    disabled = browser.find_elements(By.CSS_SELECTOR, ".toolbar button:disabled")
    assert sorted(b.get_attribute("data-value") for b in disabled) == ["overlay", "swipe"]
    sizes = browser.execute_script(
        "return Array.from(document.querySelectorAll(\".views[data-mode='side'] .stage\")).map((s) => s.style.width)"
    )
    assert sizes == ["451px", "200px"]


@pytest.mark.browser
def test_batch_page_filter_sort_rows_and_escaping_in_chromium(browser, batched):
    from selenium.webdriver.common.by import By

    _open(browser, batched / "report.html")
    assert _check_images_and_console(browser, batched) == 3  # thumbnails of the compared pairs
    _no_alert(browser)
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"], img:not(.thumb)').length") == 0

    def shown():
        return [
            (row.get_attribute("data-status"), row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text)
            for row in browser.find_elements(By.CSS_SELECTOR, "table.pairs tbody tr")
        ]

    everything = shown()
    assert len(everything) == 5 and (("different", HOSTILE) in everything)
    # the filter hides the same pairs
    browser.find_element(By.CSS_SELECTOR, "input[data-status='same']").click()
    assert [s for s, _ in shown()] == [s for s, _ in everything if s != "same"]
    browser.find_element(By.CSS_SELECTOR, "input[data-status='same']").click()
    browser.find_element(By.CSS_SELECTOR, "input[data-status='one-sided']").click()
    assert "left-only" not in [s for s, _ in shown()]
    browser.find_element(By.CSS_SELECTOR, "input[data-status='one-sided']").click()
    # sorting by score puts the lowest first, the unscored last
    browser.find_element(By.CSS_SELECTOR, "button.sort-score").click()
    scores = [
        row.find_element(By.CSS_SELECTOR, "td:nth-child(4)").text
        for row in browser.find_elements(By.CSS_SELECTOR, "table.pairs tbody tr")
    ]
    numbers = [float(s) for s in scores if s != "—"]
    assert numbers == sorted(numbers) and numbers[-1] == 1.0 and scores[-2:] == ["—", "—"]

    # a row opens that pair's view, where the hostile name is text too
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "table.pairs tbody tr")
        if r.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text == HOSTILE
    )
    row.find_element(By.CSS_SELECTOR, "td:nth-child(3)").click()
    _wait(browser, "return document.documentElement.dataset.ready === 'true' && document.title.includes('vs')")
    _wait(browser, "return Array.from(document.images).every((i) => i.complete)")
    assert HOSTILE in browser.find_element(By.ID, "title").text
    assert _check_images_and_console(browser, batched / "pairs" / HOSTILE) == 6
    _no_alert(browser)

    # and so does the odd name, whose #, ? and % must not cut the picture's URL
    _open(browser, batched / "pairs" / "sub" / "odd #?%20 name.png" / "report.html")
    assert _check_images_and_console(browser, batched / "pairs" / "sub" / "odd #?%20 name.png") == 6


@pytest.mark.browser
def test_video_page_plot_and_worst_frames_in_chromium(browser, videoed):
    from selenium.webdriver.common.by import By

    _open(browser, videoed / "report.html")
    _check_images_and_console(browser, videoed)
    points = browser.find_element(By.CSS_SELECTOR, "svg.plot polyline").get_attribute("points").split()
    assert len(points) == 12
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.plot line.flag")) == len(VIDEO_CHANGED)
    buttons = browser.find_elements(By.CSS_SELECTOR, "button.worst-frame")
    assert {int(b.get_attribute("data-frame")) for b in buttons} == VIDEO_CHANGED
    first = browser.execute_script("return document.querySelector('.compare img').src")
    buttons[1].click()
    _wait(browser, "return Array.from(document.images).every((i) => i.complete)")
    second = browser.execute_script("return document.querySelector('.compare img').src")
    assert first != second and f"/frames/{int(buttons[1].get_attribute('data-frame')):06d}/" in second
    _check_images_and_console(browser, videoed)
    # a marker on the plot opens its frame as well
    marker = browser.find_elements(By.CSS_SELECTOR, "svg.plot circle.worst")[2]
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click'))", marker)
    assert buttons[2].get_attribute("aria-pressed") == "true"


def test_the_version_line_is_importlib_metadatas():
    """The page's versions, read from the installed METADATA files, are what importlib.metadata says."""
    from importlib import metadata

    from imgdiff_gpu import __version__, html_report

    expected = [f"imgdiff-gpu {__version__}", f"Python {platform.python_version()}"]
    for name in html_report._VERSIONED:
        try:
            expected.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    assert html_report.versions() == ", ".join(expected)
    assert "numpy" in html_report._installed_versions(("numpy", "not-a-package-at-all"))
    assert "not-a-package-at-all" not in html_report._installed_versions(("not-a-package-at-all",))
