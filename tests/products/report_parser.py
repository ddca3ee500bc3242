"""Read a rendered report back with html.parser: markings, sections, table cells, chart marks.

Written for the tests without the renderer's code: it only relies on the documented hooks
(``section[data-template]``, ``td[data-column][data-value]``, ``figure[data-marks]`` and the
SVG classes ``bar``/``point``/``cell``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ParsedCell:
    text: str
    column: str
    value: str
    suppressed: bool
    key: str | None


@dataclass
class ParsedTable:
    header: list[str] = field(default_factory=list)
    rows: list[list[ParsedCell]] = field(default_factory=list)


@dataclass
class ParsedSection:
    key: str
    template: str
    query_id: str
    title: str = ""
    finding: str = ""
    tables: list[ParsedTable] = field(default_factory=list)
    figure_marks: int | None = None
    svg_count: int = 0
    drawn: dict[str, int] = field(default_factory=dict)  # svg class → elements
    text: str = ""


class ReportParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.markings: list[str] = []
        self.meta: dict[str, str] = {}
        self.sections: list[ParsedSection] = []
        self.provenance_text = ""
        self.title = ""
        self._stack: list[str] = []
        self._capture: str | None = None
        self._buffer: list[str] = []
        self._cell: dict[str, str] | None = None
        self._in_svg = 0
        self._in_dl = False

    @property
    def section(self) -> ParsedSection | None:
        return self.sections[-1] if self.sections else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content", "")
        if tag == "div" and "marking" in classes:
            self._start("marking")
        if tag == "dl" and "provenance" in classes:
            self._in_dl = True
        if tag == "section" and "data-template" in a:
            self.sections.append(ParsedSection(a["id"], a["data-template"], a["data-query-id"]))
        section = self.section
        if section is None:
            if tag == "h1":
                self._start("h1")
            return
        if tag == "h2":
            self._start("h2")
        if tag == "p" and "finding" in classes:
            self._start("finding")
        if tag == "figure":
            section.figure_marks = int(a["data-marks"])
        if tag == "svg":
            self._in_svg += 1
            section.svg_count += 1
        if self._in_svg and "class" in a:
            section.drawn[a["class"]] = section.drawn.get(a["class"], 0) + 1
        if tag == "table":
            section.tables.append(ParsedTable())
        if tag == "th":
            self._start("th")
        if tag == "tr" and section.tables:
            section.tables[-1].rows.append([])
        if tag == "td":
            self._cell = a
            self._start("td")

    def _start(self, what: str) -> None:
        self._capture = what
        self._buffer = []

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._buffer.append(data)
        if self._in_dl:
            self.provenance_text += data + " "
        if self.section is not None:
            self.section.text += data

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._buffer).strip()
        section = self.section
        if tag == "svg":
            self._in_svg -= 1
        if tag == "dl":
            self._in_dl = False
        if tag == "div" and self._capture == "marking":
            self.markings.append(text)
        elif tag == "h1" and self._capture == "h1":
            self.title = text
        elif section is not None and tag == "h2" and self._capture == "h2":
            section.title = text
        elif section is not None and tag == "p" and self._capture == "finding":
            section.finding = text
        elif section is not None and tag == "th" and self._capture == "th":
            section.tables[-1].header.append(text)
        elif (
            section is not None and tag == "td" and self._capture == "td" and self._cell is not None
        ):
            c = self._cell
            section.tables[-1].rows[-1].append(
                ParsedCell(
                    text,
                    c["data-column"],
                    c["data-value"],
                    "data-suppressed" in c,
                    c.get("data-key"),
                )
            )
            self._cell = None
        if tag in ("div", "h1", "h2", "p", "th", "td"):
            self._capture = None


def parse_report(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    for section in parser.sections:  # drop the header rows (all th)
        for table in section.tables:
            table.rows = [r for r in table.rows if r]
    return parser
