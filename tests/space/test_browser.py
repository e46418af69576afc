"""The Space in a real browser: ``imagenet3d space`` on a local port with the tiny model, driven by Selenium in
headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which ``.ci/run`` installs).

The screenshot of the page after a run is saved under the test's tmp folder and copied to
``$IMAGENET3D_TEST_ARTIFACTS`` (default: ``<tempdir>/imagenet3d_test_artifacts``) as ``space_browser.png``; the test
prints where. CI keeps nothing: look at it on your machine after ``pytest tests/space``.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.space.conftest import TAGS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 180
RUN_TIMEOUT = 120


def artifact_dir() -> Path:
    """Where the screenshot is copied for people to look at (CI keeps nothing)."""
    default = Path(tempfile.gettempdir()) / "imagenet3d_test_artifacts"
    return Path(os.environ.get("IMAGENET3D_TEST_ARTIFACTS") or default)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(space_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """`imagenet3d space --model <tiny model> --port N` in a subprocess; yields its URL once it answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("space_server") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "modeling.cli", "space", "--model", str(space_model),
                                    "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"imagenet3d space exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"imagenet3d space did not answer within {STARTUP_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through the system's chromedriver; skipped when they are not installed."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"no {CHROMIUM} / {CHROMEDRIVER}: apt-get install -y chromium chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1500", "--lang=en-US"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def table_rows(driver) -> list[list[str]]:
    """The objects table's data rows as Gradio 6 renders them: an ARIA grid (``role=row`` / ``gridcell``)."""
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#objects [role=row]")
    cells = [[cell.get_attribute("textContent").strip() for cell in row.find_elements(By.CSS_SELECTOR,
                                                                                        "[role=gridcell]")]
             for row in rows]
    return [row for row in cells if row]


def test_upload_run_and_see_every_pose(server, browser, space_sample, space_model, tmp_path, capsys):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from modeling.demo.space import TABLE_HEADERS

    sample, annotations = space_sample
    browser.get(server)
    wait = WebDriverWait(browser, RUN_TIMEOUT)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))
    assert "Model:" in browser.find_element(By.CSS_SELECTOR, "#model-status").text
    browser.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(sample.path))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo img"))
    # Two clicks on opposite corners type a box.
    photo = browser.find_element(By.CSS_SELECTOR, "#photo img")
    width, height = photo.size["width"], photo.size["height"]
    hint = browser.find_element(By.CSS_SELECTOR, "#hint")
    for (dx, dy), said in (((-width // 4, -height // 4), "First corner"), ((width // 4, height // 4), "Box added")):
        ActionChains(browser).move_to_element_with_offset(photo, dx, dy).click().perform()
        wait.until(lambda d, said=said: said in hint.text)
    boxes = browser.find_element(By.CSS_SELECTOR, "#boxes textarea")
    x1, y1, x2, y2 = (int(v) for v in boxes.get_attribute("value").split(","))
    assert 0 <= x1 < x2 and 0 <= y1 < y2
    browser.find_element(By.CSS_SELECTOR, "#run").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#overlay img") and table_rows(d))

    headers = [cell.text.strip() for cell in browser.find_elements(By.CSS_SELECTOR, "#objects table thead th")]
    assert [h for h in headers if h] == list(TABLE_HEADERS)
    rows = table_rows(browser)
    assert len(rows) == len(annotations) == 2, rows  # one row per object of the caption
    for row, truth in zip(rows, annotations):
        assert row[:2] == [TAGS[rows.index(row)], "aeroplane"]
        azimuth, elevation, theta, distance, *confidences = (float(v) for v in row[2:9])
        assert 0 <= azimuth < 360 and -180 < elevation <= 180 and -180 < theta <= 180 and distance > 0
        assert all(0 <= c <= 1 for c in confidences)
        assert azimuth == pytest.approx(math.degrees(truth["azimuth"]), abs=360 / 40)
    caption = browser.find_element(By.CSS_SELECTOR, "#caption textarea").get_attribute("value")
    assert all(tag in caption for tag in TAGS)

    # The boxes task with test-time mirroring: one row per box, and the notes say the poses are mirrored means.
    browser.find_element(By.CSS_SELECTOR, "#mirror input[type=checkbox]").click()
    next(label for label in browser.find_elements(By.CSS_SELECTOR, "#task label")
         if "box" in label.text.lower()).click()
    browser.find_element(By.CSS_SELECTOR, "#run").click()
    wait.until(lambda d: "mirror" in d.find_element(By.CSS_SELECTOR, "#notes").text)
    wait.until(lambda d: len(table_rows(d)) == 1)

    screenshot = tmp_path / "space_browser.png"
    assert browser.save_screenshot(str(screenshot))
    kept = artifact_dir() / screenshot.name
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, kept)
    with capsys.disabled():
        print(f"\nthe Space after a run, as Chromium shows it: {kept}")


def test_without_a_model_the_page_says_how_to_make_one(monkeypatch):
    pytest.importorskip("gradio")
    from modeling.cli.space import load_app
    from modeling.demo.space import MODEL_ENV, NO_MODEL_MESSAGE

    monkeypatch.delenv(MODEL_ENV, raising=False)
    app = load_app().build_app()
    status = next(block for block in app.blocks.values() if getattr(block, "elem_id", None) == "model-status")
    assert NO_MODEL_MESSAGE in status.value and "make demo" in status.value
