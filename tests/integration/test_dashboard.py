"""The dashboard (state/reports/index.html), the daily page's layout, and
the history `make run` writes for a newcomer."""
import datetime
import html.parser
import json
import re
import shutil
import subprocess
import zoneinfo

import pytest

from conftest import BIN, FIXTURE, PROJECT, Root

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


# ---- what `make run` runs ----------------------------------------------------------------


def make_run_history_commands():
    """The history commands of the GNUmakefile's run target, as argument
    lists for the tradelearn binary (RUN_DAYS filled in from its default)."""
    text = (PROJECT / "GNUmakefile").read_text()
    days = re.search(r"^RUN_DAYS \?= (\d+)$", text, re.M).group(1)
    recipe = text[text.index("\nrun: "):]
    recipe = recipe[:recipe.index("\n\n")]
    commands = []
    for line in re.findall(r"\.build/tradelearn ([^&;\n]+?)\s*(?:&&|;|\\\n|$)", recipe):
        if "--live" in line or line.startswith("watch"):
            continue
        commands.append(line.replace("$(RUN_DAYS)", days).split())
    assert [c[0] for c in commands] == ["simulate", "backfill"], commands
    return commands


def live_command():
    text = (PROJECT / "GNUmakefile").read_text()
    line = re.search(r"\.build/tradelearn (simulate --live [^&]+?)\s*&", text).group(1)
    return line.split()


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    """A root with what `make run` writes before it starts watching."""
    r = Root(tmp_path_factory.mktemp("make-run") / "root")
    for command in make_run_history_commands():
        r.run(*command, timeout=300)
    yield r
    r.cleanup()


def latest_report(r):
    return json.loads((r.state / "reports" / "post_market_latest.json").read_text())


def test_make_run_history_ends_today_so_the_latest_report_is_full_and_no_position_is_old(
        newcomer):
    now = datetime.datetime.now(datetime.timezone.utc)
    rep = latest_report(newcomer)
    day = datetime.date.fromisoformat(rep["date"])
    # The latest report is of the last trading day whose close has passed:
    # at most four calendar days back (a long weekend), never in the future.
    assert 0 <= (now.astimezone(NEW_YORK).date() - day).days <= 4, rep["date"]
    assert rep["day"]["count"] > 20
    assert rep["windows"]["7d"]["trades"]["count"] > rep["day"]["count"]
    assert rep["windows"]["30d"]["trades"]["count"] > rep["windows"]["7d"]["trades"]["count"]
    for position in rep["stale_positions"]:
        assert position["age_hours"] < 96, position
    # Every trading day of the history has its report.
    reports = sorted((newcomer.state / "reports").glob("post_market_2*.json"))
    assert len(reports) >= 18
    # The history's last row is from today's session or the last one before
    # it, never later than now.
    last = json.loads((newcomer.logs / "attribution.jsonl").read_text().splitlines()[-1])
    ts = datetime.datetime.fromisoformat(last["ts"].replace("Z", "+00:00"))
    assert ts <= now
    assert (now - ts).days <= 4


def test_make_run_live_appends_continue_the_history_from_now(newcomer, tmp_path):
    r = Root(tmp_path / "root")
    shutil.copytree(newcomer.path, r.path, dirs_exist_ok=True)
    before = json.loads((r.logs / "attribution.jsonl").read_text().splitlines()[-1])["ts"]
    r.run(*live_command(), "--max-records", "400", "--rotate-every", "0", timeout=120)
    r.run("watch", "--once")
    lines = (r.logs / "attribution.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]
    live = [row for row in rows if row.get("ts", "") > before]
    assert live, "the live run appended nothing after the history"
    now = datetime.datetime.now(datetime.timezone.utc)
    first = datetime.datetime.fromisoformat(live[0]["ts"].replace("Z", "+00:00"))
    assert abs((now - first).total_seconds()) < 600
    status = json.loads(r.run("status", "--json").stdout)
    assert all(s["lag_bytes"] == 0 for s in status["sources"].values())


def rows_of(r):
    return [json.loads(line) for line in (r.logs / "attribution.jsonl").read_text().splitlines()]


def test_simulate_end_places_the_history_before_it_cut_at_that_time(root):
    root.run("simulate", "--days", "3", "--seed", "2", "--end", "2026-03-04T17:00:00Z",
             "--malformed", "0")
    stamps = [row["ts"] for row in rows_of(root)]
    assert min(stamps)[:10] == "2026-03-02" and max(stamps)[:10] == "2026-03-04"
    assert max(stamps) < "2026-03-04T17:00:00Z"
    # A date is the whole day; a Saturday ends with Friday's session.
    root.run("simulate", "--days", "2", "--seed", "2", "--end", "2026-03-07", "--malformed", "0")
    days = sorted({row["ts"][:10] for row in rows_of(root) })
    assert days == ["2026-03-05", "2026-03-06"]
    assert max(row["ts"] for row in rows_of(root)) > "2026-03-06T20:00"
    p = root.run("simulate", "--start", "2026-03-02", "--end", "now", check=False)
    assert p.returncode == 2 and "--start and --end" in p.stderr


# ---- the pages, read as HTML -------------------------------------------------------------


class Page(html.parser.HTMLParser):
    """Tags with their ancestors, links, and the style sheet."""

    VOID = {"meta", "br", "wbr", "img", "input", "hr", "link", "circle", "line", "rect",
            "polyline", "polygon", "path"}

    def __init__(self):
        super().__init__()
        self.stack = []
        self.tables = []  # the ancestors of each table: [(tag, classes)]
        self.details = []  # [(summary text, rows inside)]
        self.links = []
        self.svgs = []
        self.scripts = 0
        self.style = ""
        self.in_style = False
        self.text = []
        self.summary = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "table":
            self.tables.append(list(self.stack))
        if tag == "tr" and any(t == "details" for t, _ in self.stack):
            self.details[-1][1] += 1
        if tag == "details":
            self.details.append(["", 0])
        if tag == "summary":
            self.summary = ""
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag == "svg":
            self.svgs.append(a.get("id"))
        if tag == "script":
            self.scripts += 1
        if tag == "style":
            self.in_style = True
        for name, value in attrs:
            if value and re.search(r"(https?:|//|url\()", value) and name != "datetime":
                raise AssertionError(f"an address in {tag} {name}={value}")
        if tag not in self.VOID and not tag.endswith("/"):
            self.stack.append((tag, classes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1][0] == tag, (tag, self.stack[-3:])
        self.stack.pop()
        if tag == "style":
            self.in_style = False
        if tag == "summary":
            self.details[-1][0] = self.summary
            self.summary = None

    def handle_data(self, data):
        if self.in_style:
            self.style += data
        if self.summary is not None:
            self.summary += data
        self.text.append(data)


def parse(path):
    p = Page()
    p.feed(path.read_text())
    p.close()
    assert not p.stack, p.stack
    return p


def scrolling_selectors(style):
    """The selectors whose rule sets overflow-x: auto (outside @media)."""
    screen = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^}]*\})*[^}]*\}", "", style)
    return {sel.strip() for sels, body in re.findall(r"([^{}]+)\{([^}]*)\}", screen)
            if "overflow-x:auto" in body.replace(" ", "") for sel in sels.split(",")}


def in_scrolling_wrapper(ancestors, selectors):
    for i, (tag, classes) in enumerate(ancestors):
        if tag == "div" and "wrap" in classes and ".wrap" in selectors:
            return True
        if (tag == "div" and i > 0 and "groups" in ancestors[i - 1][1]
                and ".groups>div" in selectors):
            return True
    return False


def assert_self_contained_and_wrapped(path):
    page = parse(path)
    assert page.scripts == 0
    selectors = scrolling_selectors(page.style)
    assert page.tables, f"{path.name} has no table"
    for ancestors in page.tables:
        assert in_scrolling_wrapper(ancestors, selectors), (path.name, ancestors)
    assert "@media print" in page.style
    for summary, _ in page.details:
        assert re.match(r"\s*(?:The last )?\d+ ", summary), summary
    return page


@pytest.fixture(scope="module")
def stock_bot(tmp_path_factory):
    """The real bot's logs backfilled: 37 stale positions, 49 symbols."""
    if not (FIXTURE / "attribution.jsonl.gz").exists():
        pytest.skip(f"stock-bot fixture not found at {FIXTURE}")
    import gzip
    r = Root(tmp_path_factory.mktemp("stock-bot") / "root", profile="stock-bot")
    for name in ("attribution.jsonl", "exit_attribution.jsonl", "blocked_trades.jsonl"):
        with gzip.open(FIXTURE / (name + ".gz"), "rb") as src, open(r.logs / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    r.run("backfill", timeout=300)
    yield r
    r.cleanup()


def test_daily_page_puts_the_charts_first_and_folds_long_lists_with_their_count(stock_bot):
    rep = latest_report(stock_bot)
    path = stock_bot.state / "reports" / f"post_market_{rep['date']}.html"
    text = path.read_text()
    assert text.index('id="charts"') < text.index('id="trades"') < text.index('id="stale"')
    assert text.index("</header>") < text.index('id="charts"')
    page = assert_self_contained_and_wrapped(path)
    summaries = [s for s, _ in page.details]
    n_stale = len(rep["stale_positions"])
    assert n_stale > 10
    assert f"{n_stale} stale positions" in summaries
    assert f"{len(rep['breakdowns']['symbol'])} rows" in summaries
    stale = dict(page.details)[f"{n_stale} stale positions"]
    assert stale == n_stale + 1  # its rows and the header row


def test_dashboard_shows_the_latest_day_every_day_with_a_link_knobs_health_and_models(
        newcomer):
    reports = newcomer.state / "reports"
    days = sorted(p.name[12:22] for p in reports.glob("post_market_2*.json"))
    rep = latest_report(newcomer)
    page = assert_self_contained_and_wrapped(reports / "index.html")
    text = (reports / "index.html").read_text()
    # Headline figures of the latest day.
    assert f'<a href="post_market_{rep["date"]}.html">{rep["date"]}</a>' in text
    assert re.search(r"<dt>Trades</dt><dd[^>]*>%d</dd>" % rep["day"]["count"], text)
    # Charts over all days: equity, drawdown, AUC and log loss, missed.
    assert page.svgs == ["chart-equity", "chart-drawdown", "chart-auc", "chart-log-loss",
                         "chart-missed"]
    # Every day links to its page and its JSON, newest first.
    day_links = [l for l in page.links if re.fullmatch(r"post_market_\d{4}-\d\d-\d\d\.html", l)]
    assert set(day_links) == {f"post_market_{d}.html" for d in days}
    rows = [l[12:22] for l in page.links if l.endswith(".json")]
    assert rows == sorted(days, reverse=True)
    assert f"{len(days) - 10} earlier days" in [s for s, _ in page.details]
    # Knobs against their defaults, health, model history.
    for knob in json.loads((newcomer.state / "knobs.json").read_text())["values"]:
        assert f'<th scope="row">{knob}</th>' in text
    assert "Last commit" in text and "Lag, attribution" in text
    assert "Last run of each job" in text and '<th scope="row">daily</th>' in text
    registry = json.loads((newcomer.path / "models" / "registry.json").read_text())
    assert f"Deployed: <strong>{registry['deployed']}</strong>" in text
    for version in registry["versions"]:
        assert version["id"] in text


def test_dashboard_is_written_again_by_models_deploy_and_rollback(newcomer, tmp_path):
    r = Root(tmp_path / "root")
    shutil.copytree(newcomer.path, r.path, dirs_exist_ok=True)
    index = r.state / "reports" / "index.html"
    r.run("retrain", "--force", timeout=300)
    registry = json.loads((r.path / "models" / "registry.json").read_text())
    first = registry["deployed"]
    other = [v["id"] for v in registry["versions"] if v["id"] != first][-1]
    assert other in index.read_text()  # the retrain wrote it
    r.run("models", "deploy", other)
    assert f"Deployed: <strong>{other}</strong>" in index.read_text()
    r.run("models", "rollback")
    assert f"Deployed: <strong>{first}</strong>" in index.read_text()
    assert not list(index.parent.glob("index.html.tmp*"))


def test_dashboard_of_a_root_without_a_model_says_so(root):
    root.run("simulate", "--days", "2", "--seed", "4", "--start", "2026-03-02")
    root.run("watch", "--once")
    root.run("daily", "--date", "2026-03-02")
    text = (root.state / "reports" / "index.html").read_text()
    assert "1 trading day reported" in text
    assert "No model version yet" in text
    assert_self_contained_and_wrapped(root.state / "reports" / "index.html")


# ---- in a browser ------------------------------------------------------------------------

LAYOUT_PROBE = """<script>
(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const page = document.documentElement.clientWidth;
  const boxes = [...document.querySelectorAll('table')].map(t => {
    let r = t.getBoundingClientRect(), left = r.left, right = r.right;
    for (let a = t.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') {
        const c = a.getBoundingClientRect();
        left = Math.max(left, c.left); right = Math.min(right, c.right);
      }
    }
    const block = t.parentElement.getBoundingClientRect();
    return {left, right, top: r.top, bottom: r.bottom, block_right: block.right,
            name: (t.closest('section') || {}).id + ':' + (t.querySelector('th') || {}).textContent};
  });
  const bad = [];
  boxes.forEach((a, i) => {
    if (a.right > page + 1) bad.push('past the page: ' + a.name);
    if (a.right > a.block_right + 1) bad.push('out of its block: ' + a.name);
    boxes.slice(i + 1).forEach(b => {
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) bad.push(a.name + ' overlaps ' + b.name);
    });
  });
  document.body.setAttribute('data-layout', JSON.stringify({tables: boxes.length, bad}));
})();
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (Debian's chromium package): the layout is "
                "checked without a browser by the tests above")


def layout_in_chromium(browser, page, width, tmp_path):
    probe = tmp_path / f"probe-{width}-{page.name}"
    probe.write_text(page.read_text().replace("</body>", LAYOUT_PROBE + "\n</body>"))
    out = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},3000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'data-layout="([^"]*)"', out.stdout)
    assert found, out.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("width", [800, 1200, 1600])
def test_no_table_runs_under_another_in_chromium_at_any_width(stock_bot, newcomer, width,
                                                              tmp_path):
    browser = chromium()
    rep = latest_report(stock_bot)
    own = latest_report(newcomer)["date"]
    for page in (stock_bot.state / "reports" / f"post_market_{rep['date']}.html",
                 newcomer.state / "reports" / f"post_market_{own}.html",
                 newcomer.state / "reports" / "index.html"):
        result = layout_in_chromium(browser, page, width, tmp_path)
        assert result["tables"] > 5
        assert result["bad"] == [], (page.name, width, result["bad"])


# ---- on paper ----------------------------------------------------------------------------


def printed_pages(browser, page, tmp_path):
    """The page printed by Chromium to PDF, as the text of each sheet."""
    pdftotext = shutil.which("pdftotext")
    if not pdftotext:
        pytest.skip("pdftotext is not installed (Debian's poppler-utils package): "
                    "the printed pages are not read back")
    pdf = tmp_path / (page.stem + ".pdf")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    return [p for p in text.split("\f") if p.strip()]


def headings(page):
    return [html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
            for h in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", page.read_text(), re.S)]


def test_printed_pages_show_every_folded_row_and_no_heading_ends_a_sheet(stock_bot, newcomer,
                                                                         tmp_path):
    browser = chromium()
    rep = latest_report(stock_bot)
    day = stock_bot.state / "reports" / f"post_market_{rep['date']}.html"
    index = newcomer.state / "reports" / "index.html"
    for page in (day, index):
        sheets = printed_pages(browser, page, tmp_path)
        assert len(sheets) > 1, page.name
        titles = set(headings(page))
        for n, sheet in enumerate(sheets[:-1]):
            last = [line.strip() for line in sheet.splitlines() if line.strip()][-1]
            assert last not in titles, f"{page.name}: sheet {n + 1} ends with heading {last!r}"
    # The folded lists are open on paper: every stale position is printed.
    text = "".join(printed_pages(browser, day, tmp_path))
    stale = rep["stale_positions"]
    assert len(stale) > 10
    for p in stale:
        opened = p["opened_at"][:16].replace("T", " ") + " UTC"
        assert re.search(rf"{p['symbol']}\s+{opened}", text), opened
