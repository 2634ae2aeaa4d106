"""``index.html`` of the report folder: one self-contained page, readable offline.

No network and no CDN: the plots are the PNGs :mod:`greenbench.outputs.report`
already draws, embedded as base64 ``data:`` URIs, and the only script is a
few lines of inline JavaScript that sort the table.  We chose embedded PNGs
over a vendored interactive plotting library (Plotly's bundle alone is
~3.5 MB) because the page must stay small enough to attach as a CI
artefact and open from a mail or a zip, and the static plots are the same
ones the Markdown report shows, so both stay consistent.

The page shows: the run (machine, meter, its reason and assumptions, what
is estimated), the gate's verdicts when the run compared, the energy table
(sortable by any column; every estimated figure carries ``*``), the plots,
and each family's section (its Markdown rendered with markdown-it-py,
which rich already depends on; images embedded).  Script errors are written
into ``#js-errors`` so a headless browser's dumped DOM exposes them; when
the script has run, ``<body data-ready="1">``.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from greenbench import results as R
from greenbench.io import atomic
from greenbench.units import fmt_si

#: images larger than this are linked, not embedded (keeps the page attachable)
MAX_EMBED_BYTES = 3_000_000
#: plots the report draws, shown in this order above the sections
PLOTS = (("energy_per_workload.png", "Energy per workload"),
         ("energy_vs_quality.png", "Energy vs quality (Pareto fronts)"))

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f23;background:#fafbfc}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:16px}
table{border-collapse:collapse;margin:8px 0;background:#fff;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px;vertical-align:top}
th{background:#f0f3f6;text-align:left}
#energy th{cursor:pointer;user-select:none;white-space:nowrap}
#energy th[aria-sort=ascending]::after{content:" \\25B2"}#energy th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.name{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.est{color:#9a6700}.note{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px}
.facts li{margin:2px 0}
.v-regression{color:#cf222e;font-weight:bold}.v-inconclusive{color:#9a6700}.v-improved{color:#1a7f37}
.v-skipped{color:#6e7781}
img{max-width:100%;height:auto;background:#fff;border:1px solid #d0d7de}
#js-errors:empty{display:none}#js-errors{color:#cf222e;background:#ffebe9;padding:8px}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
"""

JS = """
window.onerror=function(msg,src,line){var e=document.getElementById('js-errors');
 if(e){e.textContent+=msg+' (line '+line+')\\n';}};
(function(){
 var table=document.getElementById('energy');
 function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent.trim():parseFloat(v);}
 function sortBy(col,dir){
  var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
   if(typeof x==='number'&&typeof y==='number'){if(isNaN(x))return 1;if(isNaN(y))return -1;return dir*(x-y);}
   return dir*String(x).localeCompare(String(y));});
  rows.forEach(function(r){body.appendChild(r);});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
   th.setAttribute('aria-sort',i===col?(dir>0?'ascending':'descending'):'none');});
  table.setAttribute('data-sorted-by',table.tHead.rows[0].cells[col].textContent+(dir>0?' asc':' desc'));
 }
 if(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
   th.addEventListener('click',function(){sortBy(i,th.getAttribute('aria-sort')==='descending'?1:-1);});});
  var e=table.getAttribute('data-energy-col');
  if(e!==null){sortBy(parseInt(e,10),-1);}
  var rows=table.tBodies[0].rows,marked=0;
  for(var i=0;i<rows.length;i++){if(rows[i].getAttribute('data-estimated')==='1'){marked++;}}
  table.setAttribute('data-rows',String(rows.length));
  table.setAttribute('data-estimated-rows',String(marked));
 }
 document.body.setAttribute('data-ready','1');
})();
"""


def csp_hash(source: str) -> str:
    """A CSP source expression allowing exactly this inline ``<script>``/``<style>`` text (CSP 3 hash)."""
    import hashlib

    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def csp() -> str:
    """The page's Content-Security-Policy: its own script and style only (by hash), pictures as data: URIs.

    No ``'unsafe-inline'``: a ``<script>`` or ``style`` attribute that came in with a test id or a suite's
    section is not run (issue #21).
    """
    return f"default-src 'none'; img-src data:; style-src {csp_hash(CSS)}; script-src {csp_hash(JS)}"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def data_uri(path: Path) -> str | None:
    """A ``data:`` URI of an image file, or None when missing or too large to embed."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if len(raw) > MAX_EMBED_BYTES:
        return None
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
            ".svg": "image/svg+xml", ".webp": "image/webp"}.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")', re.IGNORECASE)


def embed_images(fragment: str, base: Path) -> str:
    """Replace relative ``<img src>`` by data URIs of the files under ``base`` (others left as links)."""
    def sub(m: re.Match[str]) -> str:
        src = html.unescape(m.group(2))
        if src.startswith(("data:", "http:", "https:", "/")) or ".." in Path(src).parts:
            return m.group(0)
        uri = data_uri(base / src)
        return f"{m.group(1)}{uri}{m.group(3)}" if uri else m.group(0)

    return _IMG_SRC.sub(sub, fragment)


def markdown_html(text: str) -> str:
    """Markdown (CommonMark + tables, inline HTML such as <details>) to HTML, with markdown-it-py."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    return str(md.render(text))


def _num(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "NaN"


def energy_table(benchmarks: Sequence[R.Bench], verdicts: Sequence[Any] = ()) -> str:
    """The sortable table: one row per benchmark with energy."""
    by_name = {v.name: v for v in verdicts}
    cc = any(R.codecarbon_j(b) > 0 for b in benchmarks)
    cols = ["group", "benchmark", "time", "energy / call", "power", "CO2e / call", "quality", "meter"]
    if cc:
        cols.append("CodeCarbon / call")
    if by_name:
        cols += ["Δ energy", "verdict"]
    energy_col = cols.index("energy / call")
    out = [f'<table id="energy" data-energy-col="{energy_col}"><thead><tr>'
           + "".join(f'<th scope="col" aria-sort="none">{esc(c)}</th>' for c in cols) + "</tr></thead><tbody>"]
    for b in benchmarks:
        est = R.is_estimated(b)
        cls = ' class="num est"' if est else ' class="num"'

        def fig(value: float, unit: str, est: bool = est, cls: str = cls) -> str:
            return f'<td{cls} data-v="{_num(value)}">{esc(R.mark(fmt_si(value, unit), est))}</td>'

        q = ", ".join(f"{k} {v:.4g}" for k, v in R.quality(b).items()) or "-"
        cells = [
            f"<td>{esc(b.get('group') or '-')}</td>",
            f'<td class="name">{esc(b.get("name"))}</td>',
            f'<td class="num" data-v="{_num(R.time_s(b))}">{esc(fmt_si(R.time_s(b), "s"))}</td>',
            fig(R.energy_j(b), "J"), fig(R.power_w(b), "W"), fig(R.co2e_g(b), "g"),
            f"<td>{esc(q)}</td>", f"<td>{esc(R.source(b))}</td>",
        ]
        if cc:
            cells.append(fig(R.codecarbon_j(b), "J", True, ' class="num est"'))
        if by_name:
            v = by_name.get(str(b.get("fullname")))
            change = float(v.change) if v is not None else math.nan
            text = f"{change:+.1%}" if math.isfinite(change) else "-"
            cells.append(f'<td class="num" data-v="{_num(change)}">{esc(text)}</td>')
            verdict = v.verdict if v is not None else "not compared"
            cells.append(f'<td class="v-{esc(verdict)}">{esc(verdict)}</td>')
        out.append(f'<tr data-estimated="{int(est)}" data-fullname="{esc(b.get("fullname"))}">'
                   + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def verdicts_html(verdicts: Sequence[Any], benchmarks: Sequence[R.Bench]) -> str:
    """The gate's verdicts, regressions first (the same rows as the CI summary)."""
    from greenbench.outputs import summary

    rows = summary.rows(verdicts, benchmarks)
    c = summary.counts(verdicts)
    decided = sum(summary.is_decided(v) for v in verdicts)
    head = (f"<p>{decided} of {len(verdicts)} benchmarks decided: "
            + ", ".join(f"{n} {k}" for k, n in sorted(c.items(), key=lambda kv: summary.ORDER.get(kv[0], 9)))
            + ". Inconclusive and skipped ones were not judged; they fail the gate only with "
              "--energy-compare-fail-inconclusive.</p>")
    out = [head, '<table id="verdicts"><thead><tr><th>benchmark</th><th>baseline → current (J / call)</th>'
           "<th>raw change</th><th>normalised change</th><th>verdict</th><th>sure</th><th>why</th></tr></thead><tbody>"]
    for r in rows:
        energy = (f"{R.mark(fmt_si(r.baseline_j, 'J'), r.estimated)} → {R.mark(fmt_si(r.current_j, 'J'), r.estimated)}"
                  if math.isfinite(r.baseline_j) else "-")
        # a certainty only where it supports the verdict (issue #20: "improved ... 0% sure")
        sure = f"{r.confidence:.0%}" if r.verdict in ("regression", "improved") and r.confidence > 0 else "-"
        out.append(f'<tr><td class="name">{esc(r.name)}</td><td class="num">{esc(energy)}</td>'
                   f'<td class="num">{summary._pct(r.raw_change)}</td><td class="num">{summary._pct(r.change)}</td>'
                   f'<td class="v-{esc(r.verdict)}">{esc(r.verdict)}</td><td class="num">{sure}</td>'
                   f"<td>{esc(r.reason)}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def threads_text(threads: Any) -> str:
    from greenbench.outputs.report import threads_text as text

    return text(threads)


def render(output: dict[str, Any], out_dir: Path, *, sections_md: Sequence[str] = (),
           verdicts: Sequence[Any] = (), errors: Sequence[str] = ()) -> str:
    """The whole page as one string."""
    benchmarks = [b for b in output.get("benchmarks", []) if R.has_energy(b)]
    mi = output.get("machine_info") or {}
    gb = mi.get("greenbench") or {}
    meter = gb.get("meter") or {}
    cpu = (mi.get("cpu") or {}).get("brand_raw") or mi.get("processor") or "?"
    est_n = sum(R.is_estimated(b) for b in benchmarks)
    commit = output.get("commit_info") or {}
    facts = [
        f"when: {esc(output.get('datetime', '?'))}; commit: <code>{esc(str(commit.get('id', '?'))[:12])}</code>"
        + (f" ({esc(commit.get('branch'))})" if commit.get("branch") else ""),
        f"machine: {esc(mi.get('node', '?'))} — {esc(cpu)}, {esc(mi.get('system', '?'))}, "
        f"Python {esc(mi.get('python_version', '?'))}",
        f"meter: <b>{esc(meter.get('source', '?'))}</b> ("
        + ("estimated" if meter.get("estimated", True) else "hardware counter") + ")"
        + (f" — {esc(meter.get('reason'))}" if meter.get("reason") else ""),
        f"threads: {esc(threads_text(gb.get('threads')))}; device: {esc(gb.get('device', '?'))}; "
        f"carbon intensity: {esc(gb.get('intensity_label', '?'))}",
        f"{len(benchmarks)} benchmarks with energy; figures are per call, median over rounds.",
    ]
    from greenbench.outputs.summary import compared  # issue #23: what the run compared, at the top

    seen = compared(output)
    facts.insert(0, f"baseline: {esc(seen['baseline'])}" if "baseline" in seen else "baseline: none (not compared)")
    if (gb.get("codecarbon") or {}).get("on"):
        facts.append("CodeCarbon side by side: on (one tracker around each whole benchmark, outside our windows)")
    notes = sorted({n for b in benchmarks for n in (R.energy(b) or {}).get("notes", []) or []})
    body = ["<h1>greenbench report</h1>", '<pre id="js-errors"></pre>',
            '<ul class="facts">' + "".join(f"<li>{f}</li>" for f in facts) + "</ul>"]
    gb_file = output.get("greenbench")
    if isinstance(gb_file, dict) and gb_file.get("interrupted"):  # issue #21: the page says so, as README.md does
        body.append('<p class="note" id="interrupted"><b>This run was interrupted</b> (Ctrl-C or SIGTERM): '
                    "benchmarks after the interruption are missing, and the energy gate refuses this run as a "
                    "baseline.</p>")
    if est_n:
        body.append(f'<p class="note" id="estimated-note"><b>{est_n} of {len(benchmarks)} figures are estimated</b>'
                    " (marked <span class=\"est\">*</span>): not read off a hardware energy counter. "
                    + ("Energy comes from the CPU-time model: the process tree's CPU time × the CPU's per-core "
                       "power + resident memory × 0.3725 W/GB. " if "model" in str(meter.get("source", "")) else "")
                    + "".join(f"{esc(n)}. " for n in notes[:5]) + "</p>")
    if verdicts:
        from greenbench.gate.explain import html_section  # issue #24: where each regression's energy moved

        body += ["<h2 id=\"gate\">Energy gate</h2>", verdicts_html(verdicts, benchmarks), html_section(verdicts)]
    body += ["<h2 id=\"all\">All benchmarks</h2>",
             "<p>Click a column heading to sort. <span class=\"est\">*</span> = estimated.</p>",
             energy_table(benchmarks, verdicts)]
    for name, title in PLOTS:
        uri = data_uri(out_dir / name)
        if uri:
            body.append(f'<h2>{esc(title)}</h2><img alt="{esc(title)}" src="{uri}">')
    warned = [(b.get("name"), w) for b in benchmarks for w in (R.energy(b) or {}).get("warnings", [])]
    if warned:
        body.append(f"<details><summary>Measurement warnings ({len(warned)})</summary><ul>"
                    + "".join(f"<li><code>{esc(n)}</code>: {esc(w)}</li>" for n, w in warned) + "</ul></details>")
    for part in sections_md:
        body.append('<section class="family">' + embed_images(markdown_html(part), out_dir) + "</section>")
    if errors:
        body.append("<h2>Section errors</h2><ul>" + "".join(f"<li>{esc(e)}</li>" for e in errors) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp()}\">"
            f"<title>greenbench report — {len(benchmarks)} benchmarks</title><style>{CSS}</style></head>\n"
            f"<body><main>\n{chr(10).join(body)}\n</main><script>{JS}</script></body></html>\n")


def write_html(output: dict[str, Any], out_dir: str | Path, *, sections_md: Sequence[str] = (),
               verdicts: Sequence[Any] = (), errors: Sequence[str] = ()) -> Path:
    """Write ``index.html`` into the report folder (after the plots, which it embeds)."""
    out = Path(out_dir)
    page = render(output, out, sections_md=sections_md, verdicts=verdicts, errors=errors)
    return atomic.write_text(out / "index.html", page)
