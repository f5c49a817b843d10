"""The book (scripts/book.py) built from the committed notebooks and read in
headless Chromium over a local HTTP server: titles, figures, math, links,
search, no JavaScript errors, nothing fetched from another host. Also the
build's failure handling: a failing notebook is named with its cell, and the
previous book stays in place.

The browser tests skip when Debian's chromium / chromium-driver are absent
(.ci/run installs them)."""
from __future__ import annotations

import functools
import http.server
import importlib.util
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHAPTERS = sorted((REPO / "notebooks").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("palm_book", REPO / "scripts" / "book.py")
book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book)


def stored_images(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs
               if {"image/png", "image/jpeg"} & set(out.get("data", {})))


def diagrams(path: Path) -> list[str]:
    """The SVG diagrams a chapter's Markdown shows (``img/NAME.svg``)."""
    nb = nbformat.read(path, as_version=4)
    return sorted({m for cell in nb.cells if cell.cell_type == "markdown"
                   for m in re.findall(r"\]\(img/([\w-]+\.svg)\)", cell.source)})


def chapter_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError(f"{path.name} has no title")


# ---------------------------------------------------------------- build logic

def test_swap_in_replaces_the_old_folder(tmp_path):
    out, new = tmp_path / "book", tmp_path / "new"
    out.mkdir()
    (out / "old.html").write_text("old")
    new.mkdir()
    (new / "index.html").write_text("new")
    book.swap_in(new, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book"]
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_failing_notebook_is_named_and_previous_book_kept(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nbformat.write(nb, notebooks / "99_broken.ipynb")
    before = nbformat.read(notebooks / "99_broken.ipynb", as_version=4)
    out = tmp_path / "site" / "book"
    out.mkdir(parents=True)
    (out / "index.html").write_text("previous book")

    code = book.main(["--execute", "--notebooks", str(notebooks), "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 1
    assert "99_broken.ipynb failed at cell 2 (code cell In [2]): ValueError: boom" in err
    assert (out / "index.html").read_text() == "previous book"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    # no temporary folders; the stored outputs the chapters read beside notebooks/ are copied
    assert sorted(p.name for p in out.parent.iterdir()) == ["book", "docs", "executed", "results"]
    assert (out.parent / "docs" / "benchmarks.md").is_file()
    assert nbformat.read(notebooks / "99_broken.ipynb", as_version=4) == before  # only the copy was executed


def test_leaderboard_comes_from_the_full_runs_histories(tmp_path):
    import json
    import shutil

    section = book.leaderboard_section(book.RESULTS)
    assert "<table" in section and "acc 95 % CI" in section
    for history in book.RESULTS.glob("*/history.json"):
        assert f"<th>{history.parent.name}</th>" in section
        record = json.loads(history.read_text())
        # held-out selection: the chosen epoch's test accuracy; older runs: their best epoch's
        reported = (record.get("test") or {}).get("accuracy") or max(r["val_acc"] for r in record["epochs"])
        assert f"{reported:.4f}" in section, history.parent.name
    # a run with no history yet is named under the table
    some = tmp_path / "full-run"
    shutil.copytree(book.RESULTS / "resnet50", some / "resnet50")
    section = book.leaderboard_section(some)
    assert "<th>resnet50</th>" in section and "<th>vgg16</th>" not in section
    assert "还没有完整运行" in section and "VGG-16" in section.split("还没有完整运行")[1]
    with pytest.raises(book.BuildError, match="not found"):
        book.leaderboard_section(tmp_path / "nowhere")


def test_seed_leaderboard_comes_from_the_runners_records(tmp_path):
    import json
    import shutil

    import numpy as np

    runs = tmp_path / "runs"
    assert "还没有存进" in book.seed_leaderboard_section(runs, "shared")
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(211, int), np.zeros(189, int)]
    for network, skill in (("resnet18", 3.0), ("alexnet", 1.2), ("mobilenet_v2", 2.9)):
        for seed in (1, 2, 3):
            probs = 1 / (1 + np.exp(-(skill * (2 * y - 1) + rng.normal(0, 1.2, y.size))))
            acc = float(np.mean((probs > 0.5) == y))
            path = runs / "shared" / network / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"run": {"seed": seed}, "history": {
                "meta": {"params": 1e6, "flops": 1e9},
                "epochs": [{"epoch": 1, "seconds": 10.0}],
                "test": {"epoch": 1, "accuracy": acc, "auc": 0.9,
                         "predictions": {"labels": y.tolist(), "probs": probs.tolist()}}}}))
    section = book.seed_leaderboard_section(runs, "shared")
    assert section.index("<th>ResNet-18</th>") < section.index("<th>AlexNet</th>")   # best mean first
    assert "共 3 对" in section and "Holm" in section
    # AlexNet is far weaker than both: those two pairs survive the correction, AlexNet as B
    pairs = section[section.index("配对检验"):]
    assert pairs.count("<th>AlexNet</th>") == 2 and "准确率 2 对" in pairs
    shutil.rmtree(runs / "shared" / "alexnet")
    shutil.rmtree(runs / "shared" / "mobilenet_v2")
    assert "配对检验" not in book.seed_leaderboard_section(runs, "shared")   # one network: no pairs


def test_ablations_page_pairs_each_twin_with_its_network(tmp_path):
    """The ablations table from the runner's records: the sweep (which makes
    the shared recipe) and AlexNet's shared runs as stored, and a planted
    twin without dropout that gets 40 more test images wrong."""
    import json
    import shutil

    runs = tmp_path / "runs"
    stored = REPO / "results" / "runs"
    for sweep in stored.glob("sweep-*"):
        shutil.copytree(sweep, runs / sweep.name)
    empty = book.ablations_section(runs)
    assert "0 / 10" in empty and empty.count("not run yet") == 10
    shutil.copytree(stored / "shared" / "alexnet", runs / "shared" / "alexnet")
    for path in sorted((runs / "shared" / "alexnet").glob("seed*.json")):
        record = json.loads(path.read_text())
        predictions = record["history"]["test"]["predictions"]
        flipped = 0
        for i, (label, prob) in enumerate(zip(predictions["labels"], predictions["probs"])):
            if flipped < 40 and (prob > 0.5) == bool(label):
                predictions["probs"][i], flipped = 1.0 - prob, flipped + 1
        twin = runs / "ablation" / "alexnet-no-dropout" / path.name
        twin.parent.mkdir(parents=True, exist_ok=True)
        twin.write_text(json.dumps(record))
    section = book.ablations_section(runs)
    assert "1 / 10" in section and section.count("not run yet") == 9
    row = section[section.index("<th>dropout</th>"):section.index("<th>augmentation</th>")]
    assert "<td>+0.1000 (" in row          # with dropout minus without: 40 of 400 images
    assert "<td>0.0001</td>" in row or "<td>0.0000</td>" in row   # the permutation test's smallest p


# ---------------------------------------------------------------- the browser

class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def log_request(self, code="-", size="-"):
        self.requests.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser left a page mid-download
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book") / "book"
    index = book.build(REPO / "notebooks", out)
    assert index == out / "index.html" and index.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["book"]  # nothing left beside it
    return out


@pytest.fixture(scope="module")
def server(built):
    _Handler.requests = []
    httpd = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(built)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"the browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
                    "apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,900",
                 # Any request to another host fails, so that a CDN dependency shows as an error.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(driver, url: str) -> list:
    """Load url, wait until the page and its images are complete and MathJax
    is idle; return the console entries logged meanwhile."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return document.readyState === 'complete'"
        " && Array.from(document.images).every(i => i.complete)"
        " && (!document.querySelector('.math.notranslate') || (window.MathJax && MathJax.Hub"
        "     && MathJax.Hub.queue && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running"
        "     && document.querySelectorAll('span.MathJax').length > 0))"))
    return driver.get_log("browser")


def _severe(entries) -> list:
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def _screenshot(driver, built: Path, name: str) -> Path:
    path = built / "_screenshots" / name
    path.parent.mkdir(exist_ok=True)
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_landing_page(browser, server, built):
    from selenium.webdriver.common.by import By

    errors = _severe(_open(browser, server + "index.html"))
    assert errors == []
    hrefs = {urllib.parse.urlsplit(a.get_attribute("href")).path.rsplit("/", 1)[-1]
             for a in browser.find_elements(By.CSS_SELECTOR, "article a[href]")}
    for path in CHAPTERS:
        assert path.stem + ".html" in hrefs, f"the landing page does not link to {path.stem}"
    article = browser.find_element(By.CSS_SELECTOR, "article").text
    assert "400" in article and "0.5275" in article and "results/full-run" in article
    assert "results/runs/shared" in article                   # the seed leaderboard leads
    tables = browser.find_elements(By.CSS_SELECTOR, ".comparison-table table")
    assert "test acc (mean ± sd)" in tables[0].text             # the shared recipe over seeds
    table = next(t for t in tables if "resnet50" in t.text)     # the chapters' stored runs
    assert "test acc" in table.text
    # at a 1400-pixel window each table either fits or shows its scroll bar
    fits = browser.execute_script(
        "return [...document.querySelectorAll('.comparison-table')].map("
        "c => [c.scrollWidth <= c.clientWidth, getComputedStyle(c).overflowX]);")
    assert all(fit[0] or fit[1] == "scroll" for fit in fits), fits
    _screenshot(browser, built, "landing.png")
    browser.execute_script("arguments[0].scrollIntoView()", table)
    _screenshot(browser, built, "landing-table.png")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_page(browser, server, built, path):
    from selenium.webdriver.common.by import By

    errors = _severe(_open(browser, server + path.stem + ".html"))
    assert errors == []
    title = chapter_title(path)
    h1 = browser.find_element(By.CSS_SELECTOR, "article h1").text.strip().rstrip("#¶").strip()
    assert h1 == title
    assert title in browser.title
    images = browser.execute_script(
        "const imgs = Array.from(document.querySelectorAll('article img'));"
        "return [imgs.filter(i => i.naturalWidth > 0).length, imgs.filter(i => i.naturalWidth === 0).length];")
    expected = stored_images(path)
    assert expected >= 2, "every chapter stores at least its training curves and one more figure"
    assert images[0] >= expected and images[1] == 0, f"{images[0]} images shown, {images[1]} broken, {expected} stored"
    # the architecture diagrams: every one the chapter references is shown and loaded
    svgs = browser.execute_script(
        "return Array.from(document.querySelectorAll('article img'))"
        ".filter(i => i.src.endsWith('.svg')).map(i => [i.src.split('/').pop(), i.naturalWidth]);")
    wanted = diagrams(path)
    assert wanted, f"{path.name} shows no architecture diagram"
    assert sorted(name for name, _ in svgs) == wanted
    assert all(width > 100 for _, width in svgs), svgs
    # prev/next navigation between chapters
    nav = {a.get_attribute("href").rsplit("/", 1)[-1] for a in
           browser.find_elements(By.CSS_SELECTOR, ".prev-next-area a")}
    index = CHAPTERS.index(path)
    if index > 0:
        assert CHAPTERS[index - 1].stem + ".html" in nav
    if index + 1 < len(CHAPTERS):
        assert CHAPTERS[index + 1].stem + ".html" in nav
    # math: every formula Sphinx wrote (.math.notranslate) typeset by MathJax, no TeX errors
    maths = browser.execute_script(
        "return [document.querySelectorAll('.math.notranslate').length,"
        " document.querySelectorAll('script[type^=\"math/tex\"]').length,"
        " document.querySelectorAll('span.MathJax').length,"
        " document.querySelectorAll('.MathJax_Error, merror').length];")
    assert maths[0] > 0 and maths[1] == maths[0] and maths[2] >= maths[0] and maths[3] == 0, maths
    # display formulas are centred in the text column
    offsets = browser.execute_script(
        "return Array.from(document.querySelectorAll('.MathJax_Display')).map(d => {"
        " const box = d.getBoundingClientRect(), f = d.querySelector('.MathJax').getBoundingClientRect();"
        " return (f.left + f.right) / 2 - (box.left + box.right) / 2; });")
    assert all(abs(o) < 5 for o in offsets), offsets
    if path.stem.startswith("01"):
        formula = browser.find_element(By.CSS_SELECTOR, ".MathJax_Display")
        assert formula.size["width"] > 50
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", formula)
        _screenshot(browser, built, "chapter-01-math.png")
    if path.stem.startswith("03"):
        figure = browser.find_element(By.CSS_SELECTOR, "div.cell_output img")
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", figure)
        _screenshot(browser, built, "chapter-03.png")


@pytest.mark.parametrize("query, page", [("Inception", "04_googlenet.html"), ("残差", "05_resnet.html")])
def test_search(browser, server, query, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    errors = _severe(_open(browser, server + "search.html?q=" + urllib.parse.quote(query)))
    WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a"))
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#search-results li a")]
    assert any(page in link for link in links), links
    assert errors + _severe(browser.get_log("browser")) == []


def test_internal_links_resolve_and_nothing_failed(browser, server):
    pages = ["index.html", "search.html", "genindex.html"] + [p.stem + ".html" for p in CHAPTERS]
    host = urllib.parse.urlsplit(server).netloc
    targets = set()
    for page in pages:
        _open(browser, server + page)
        for href in browser.execute_script(
                "return Array.from(document.querySelectorAll('a[href], link[href]')).map(a => a.href)"):
            parts = urllib.parse.urlsplit(href)
            if parts.netloc == host:
                targets.add(urllib.parse.urlunsplit(parts._replace(fragment="")))
    assert len(targets) > 10
    bad = []
    for url in sorted(targets):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                if response.status != 200:
                    bad.append((url, response.status))
        except urllib.error.URLError as exc:
            bad.append((url, str(exc)))
    assert bad == []
    failed = [(path, code) for path, code in _Handler.requests if code >= 400]
    assert failed == []
    assert any("/_static/mathjax/" in path for path, _ in _Handler.requests), "MathJax was not served locally"


def test_aistudio_page(browser, server, built):
    from selenium.webdriver.common.by import By

    assert _severe(_open(browser, server + "aistudio.html")) == []
    article = browser.find_element(By.CSS_SELECTOR, "article").text
    for needed in ("在 AI Studio 上运行", "external-libraries", "pip install -e .", "data19065",
                   "amp=True", "paddle.utils.run_check()"):
        assert needed in article
    browser.get(server + "index.html")
    hrefs = {a.get_attribute("href").rsplit("/", 1)[-1] for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")}
    assert "aistudio.html" in hrefs


def test_teaching_page(browser, server, built):
    from selenium.webdriver.common.by import By

    assert _severe(_open(browser, server + "teaching.html")) == []
    article = browser.find_element(By.CSS_SELECTOR, "article").text
    for needed in ("给教师", "python scripts/teach.py edition", "python scripts/teach.py grade submissions",
                   "raise NotImplementedError()", "scores.csv", "student, chapter, exercise, points"):
        assert needed in article, needed
    browser.get(server + "index.html")
    hrefs = {a.get_attribute("href").rsplit("/", 1)[-1] for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")}
    assert "teaching.html" in hrefs
