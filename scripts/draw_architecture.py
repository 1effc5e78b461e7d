"""Draw the package's layers and its imports as plain SVG, read from the sources (ast).

Bands top to bottom, one per layer; one box per module, grouped by package; an arrow where a
package imports from one in a lower layer. A module may import from its own layer or any
layer below, never from one above: ``--check`` fails on such an import, as on a stale picture.

    python scripts/draw_architecture.py           write docs/img/architecture.svg
    python scripts/draw_architecture.py --check   exit 1 if it would change, or on an upward import

A new module of a known package goes into its package's layer; a new package or top-level
module must be given a layer in ``LAYERS`` (the script says so).
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "airflow_provider_octopods"
OUTPUT = REPO / "docs" / "img" / "architecture.svg"


@dataclass(frozen=True)
class Layer:
    name: str
    note: str
    units: tuple[str, ...]  # its packages (folders) and top-level modules, in drawing order
    colour: str
    fill: str


LAYERS = (
    Layer(
        "Faces",
        "what Airflow and users call",
        (
            "hooks",
            "sensors",
            "triggers",
            "operators",
            "templated",
            "provider_info",
            "analytics",
            "delivery_view",
            "emulator",
        ),
        "#3949ab",
        "#e8eaf6",
    ),
    Layer("Waits and snapshots", "the runs, step by step", ("wait", "snapshot"), "#00796b", "#e0f2f1"),
    Layer(
        "Drivers, files, reports",
        "sockets, Parquet, Iceberg, logs and metrics",
        ("clients", "parquet", "iceberg", "reporting", "lineage"),
        "#ef6c00",
        "#fff3e0",
    ),
    Layer(
        "Rules",
        "the endpoint's, the connection's, the refresh's: no I/O",
        ("connection", "protocol", "refresh"),
        "#8e24aa",
        "#f3e5f5",
    ),
    # "__init__": the root package, which holds only the version.
    Layer(
        "Vocabulary",
        "used by every layer (arrows left out)",
        ("errors", "status", "__init__"),
        "#546e7a",
        "#eceff1",
    ),
)
# Drawn as one box: the emulator stands in for the vendor and is not part of a request's way.
COLLAPSED = frozenset({"emulator"})

# Geometry (px). Module names are drawn in a monospace font, so their width is known.
WIDTH = 960
LABEL_W = 150  # the left column: each layer's name and note
LABEL_CHARS = 19  # of a note; of a name, in bold: 4 fewer
FONT = 12
CHAR = 0.6 * FONT
BOX_H = 22
GAP = 5  # between boxes of a package
PAD = 7  # inside a package's frame
TITLE = 17  # a frame's title line
FRAME_GAP = 14
BAND_PAD = 12
BAND_GAP = 10


def _module_name(path: Path, package: Path) -> str:
    """``wait/engine``, ``errors``, ``protocol/__init__``, ``__init__`` (the root)."""
    return path.relative_to(package).with_suffix("").as_posix()


def _resolve(dotted: str, names: Iterable[str], known: set[str]) -> set[str]:
    """The package's modules that ``from <dotted> import <names>`` reads."""
    base = dotted.split(".")[1:]  # without the package's own name
    found = set()
    for name in names:
        for candidate in ("/".join([*base, name]), "/".join([*base, name, "__init__"])):
            if candidate in known:
                found.add(candidate)
                break
        else:  # a name defined in the module (or package) itself
            found.add("/".join(base) if "/".join(base) in known else "/".join([*base, "__init__"]))
    return found


def _ours(dotted: str) -> bool:
    return dotted == PACKAGE.name or dotted.startswith(PACKAGE.name + ".")


def _imports(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    """What ``module`` imports of the package, wherever in it (a function's imports too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:  # relative: from the module's package
            parts = [PACKAGE.name, *module.split("/")[:-1]]
            parts = parts[: len(parts) - node.level + 1]
            dotted = ".".join([*parts, *([node.module] if node.module else [])])
            found |= _resolve(dotted, (a.name for a in node.names), known)
        elif isinstance(node, ast.ImportFrom) and _ours(node.module or ""):
            found |= _resolve(str(node.module), (a.name for a in node.names), known)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    dotted, _, last = alias.name.rpartition(".")
                    found |= _resolve(dotted, [last], known)
    return found - {module}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports."""
    files = {_module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    known = set(files)
    return {name: _imports(ast.parse(path.read_text()), name, known) for name, path in files.items()}


def unit_of(module: str) -> str:
    """The package (folder) or the top-level module a module belongs to."""
    return module.split("/")[0]


def layer_of(module: str) -> int:
    """0 for the top layer. Every module of a package is in its package's layer."""
    unit = unit_of(module)
    for index, layer in enumerate(LAYERS):
        if unit in layer.units:
            return index
    raise SystemExit(f"{unit!r} is in no layer: add it to LAYERS in {Path(__file__).name}")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a layer above the importer's own, in words."""
    layer = {module: layer_of(module) for module in graph}  # every module placed, or refused
    return [
        f"{module} ({LAYERS[layer[module]].name}) imports {target} ({LAYERS[layer[target]].name})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer[target] < layer[module]
    ]


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def centre(self) -> float:
        return self.x + self.w / 2


@dataclass
class Group:
    """A package's modules in a frame titled ``name/``, or top-level modules side by side."""

    title: str | None
    units: list[str]  # a framed group: its package; else one unit per label
    labels: list[str]
    rows: int = 1

    @property
    def columns(self) -> int:
        return math.ceil(len(self.labels) / self.rows)

    def size(self, box_w: float) -> tuple[float, float]:
        rows = min(self.rows, len(self.labels))
        frame = (2 * PAD, 2 * PAD + TITLE) if self.title else (0, 0)
        return (
            self.columns * box_w + (self.columns - 1) * GAP + frame[0],
            rows * BOX_H + (rows - 1) * GAP + frame[1],
        )


def _drawn(module: str) -> bool:
    # A package's __init__ is its folder: it gets no box of its own.
    return not module.endswith("__init__")


def _groups(modules: list[str], layer: Layer) -> list[Group]:
    """The layer's groups in its drawing order: a frame per package, top-level modules (and
    collapsed packages) side by side between them."""
    groups: list[Group] = []
    for unit in layer.units:
        inside = sorted(m.split("/")[1] for m in modules if unit_of(m) == unit and "/" in m and _drawn(m))
        if inside and unit not in COLLAPSED:
            groups.append(Group(f"{unit}/", [unit], inside))
        elif inside or (unit in modules and _drawn(unit)):
            if not groups or groups[-1].title is not None:
                groups.append(Group(None, [], []))
            groups[-1].units.append(unit)
            groups[-1].labels.append(f"{unit}/" if inside else f"{unit}.py")
    return groups


def _wrap(text: str, bold: bool = False) -> list[str]:
    return textwrap.wrap(text, LABEL_CHARS - 4 * bold)


def _fit(groups: list[Group], box_w: float) -> float:
    """As few rows as keep the band within the picture's width; returns the band's width (wider
    when even one row per group's box does not fit: the picture then grows)."""
    for rows in range(1, max(len(g.labels) for g in groups) + 1):
        for group in groups:
            group.rows = rows
        width = sum(g.size(box_w)[0] for g in groups) + FRAME_GAP * (len(groups) - 1)
        if width <= WIDTH - LABEL_W:
            break
    return width


@dataclass
class Canvas:
    """The picture's elements by depth (bands under arrows under boxes), and where each unit is."""

    box_w: float
    width: float
    back: list[str]
    front: list[str]
    rects: dict[str, Rect]

    def box(self, rect: Rect, label: str, layer: Layer) -> None:
        self.front.append(
            f'<rect x="{rect.x:g}" y="{rect.y:g}" width="{rect.w:g}" height="{rect.h:g}" rx="4" '
            f'fill="{layer.fill}" stroke="{layer.colour}"/>'
            f'<text x="{rect.centre:g}" y="{rect.y + BOX_H / 2 + FONT * 0.35:g}" class="m">'
            f"{escape(label)}</text>"
        )

    def frame(self, rect: Rect, title: str, layer: Layer) -> None:
        self.front.append(
            f'<rect x="{rect.x:g}" y="{rect.y:g}" width="{rect.w:g}" height="{rect.h:g}" rx="6" '
            f'fill="#fff" stroke="{layer.colour}" stroke-width="1.5"/>'
            f'<text x="{rect.x + PAD:g}" y="{rect.y + PAD + 10:g}" class="p" fill="{layer.colour}">'
            f"{escape(title)}</text>"
        )

    def band(self, index: int, top: float, height: float) -> None:
        """The band's background, and its name and note in the left column, where no arrow runs."""
        layer = LAYERS[index]
        self.back.append(
            f'<rect x="0" y="{top:g}" width="{self.width:g}" height="{height:g}" fill="{layer.fill}" '
            'opacity="0.5"/>'
        )
        lines = [
            (f"{index + 1} · {line}" if i == 0 else line, "h")
            for i, line in enumerate(_wrap(layer.name, bold=True))
        ]
        lines += [(line, "n") for line in _wrap(layer.note)]
        self.front.extend(
            f'<text x="{BAND_PAD}" y="{top + BAND_PAD + 13 + 17 * i:g}" class="{cls}" fill="{layer.colour}">'
            f"{escape(line)}</text>"
            for i, (line, cls) in enumerate(lines)
        )

    def group(self, group: Group, x: float, y: float, layer: Layer) -> None:
        w, h = group.size(self.box_w)
        if group.title is not None:
            self.frame(Rect(x, y, w, h), group.title, layer)
            self.rects[group.units[0]] = Rect(x, y, w, h)
            x, y = x + PAD, y + PAD + TITLE
        for i, label in enumerate(group.labels):
            column, row = divmod(i, group.rows)
            rect = Rect(x + column * (self.box_w + GAP), y + row * (BOX_H + GAP), self.box_w, BOX_H)
            self.box(rect, label, layer)
            if group.title is None:
                self.rects[group.units[i]] = rect

    def layer(self, index: int, groups: list[Group], top: float) -> float:
        """Draw a layer's band from ``top``, its groups centred right of the labels; return the
        band's height."""
        sizes = [g.size(self.box_w) for g in groups]
        x = LABEL_W + (self.width - LABEL_W - sum(w for w, _ in sizes) - FRAME_GAP * (len(groups) - 1)) / 2
        for group, (w, _) in zip(groups, sizes, strict=True):
            self.group(group, x, top + BAND_PAD, LAYERS[index])
            x += w + FRAME_GAP
        labels = 17 * (len(_wrap(LAYERS[index].name, bold=True)) + len(_wrap(LAYERS[index].note)))
        height = max(max(h for _, h in sizes), labels) + 2 * BAND_PAD
        self.band(index, top, height)
        return height


def _arrows(graph: dict[str, set[str]], rects: dict[str, Rect]) -> list[str]:
    """One arrow per package that imports from a package of a lower layer (not the vocabulary's),
    from its bottom edge to the other's top; the ports along each edge ordered by where the other
    end is, so that arrows leaving one box do not cross there."""
    pairs = sorted(
        {
            (unit_of(module), unit_of(target))
            for module, targets in graph.items()
            for target in targets
            if layer_of(module) < layer_of(target) < len(LAYERS) - 1
            and {unit_of(module), unit_of(target)} <= rects.keys()
        }
    )
    leaving = {u: sorted((t for s, t in pairs if s == u), key=lambda t: rects[t].centre) for u, _ in pairs}
    arriving = {u: sorted((s for s, t in pairs if t == u), key=lambda s: rects[s].centre) for _, u in pairs}
    paths = []
    for source, target in pairs:
        a, b = rects[source], rects[target]
        sx = a.x + a.w * (leaving[source].index(target) + 1) / (len(leaving[source]) + 1)
        tx = b.x + b.w * (arriving[target].index(source) + 1) / (len(arriving[target]) + 1)
        sy, ty = a.y + a.h, b.y - 1
        bend = (ty - sy) / 2
        colour = LAYERS[layer_of(source)].colour
        paths.append(
            f'<path d="M{sx:.1f},{sy:g} C{sx:.1f},{sy + bend:.1f} {tx:.1f},{ty - bend:.1f} {tx:.1f},{ty:g}" '
            f'class="e" stroke="{colour}" marker-end="url(#arrow-{layer_of(source)})"/>'
        )
    return paths


_STYLE = (
    ".m{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;"
    "text-anchor:middle;fill:#212121}"
    ".p{font:bold 11px ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace}"
    ".h,.n{font:bold 14px system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}"
    ".n{font-weight:normal;font-size:12px;fill:#555}"
    ".e{fill:none;stroke-width:1.3;opacity:.7}"
)


def render(graph: dict[str, set[str]]) -> str:
    """The picture as SVG text: the same graph gives the same bytes."""
    modules = sorted(graph, key=layer_of)  # every module placed, or refused
    layers = [_groups(modules, layer) for layer in LAYERS]
    box_w = max(len(label) for groups in layers for group in groups for label in group.labels) * CHAR + 16
    widest = max(_fit(groups, box_w) for groups in layers if groups)
    canvas = Canvas(box_w, max(WIDTH, LABEL_W + widest + BAND_PAD), [], [], {})
    top = 0.0
    for index, groups in enumerate(layers):
        if groups:  # a layer with no module yet gets no band
            top += canvas.layer(index, groups, top) + BAND_GAP
    height = top + 16
    markers = "".join(
        f'<marker id="arrow-{i}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        f'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{layer.colour}" stroke="none"/></marker>'
        for i, layer in enumerate(LAYERS)
    )
    legend = (
        f'<text x="{BAND_PAD}" y="{height - 6:g}" class="n">An arrow: a package '
        "imports from one in a lower layer (never from one above). Imports within a layer and "
        "into the vocabulary are not drawn.</text>"
    )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {canvas.width:g} {height:g}" '
            f'width="{canvas.width:g}" height="{height:g}" role="img">',
            "<title>airflow_provider_octopods: its layers, modules and imports</title>",
            f"<style>{_STYLE}</style><defs>{markers}</defs>",
            *canvas.back,
            *_arrows(graph, canvas.rects),
            *canvas.front,
            legend,
            "</svg>",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail if the file would change")
    args = parser.parse_args()
    graph = import_graph()
    if upward := upward_imports(graph):
        print("Imports from a layer above:", *upward, sep="\n  ")
        return 1
    svg = render(graph)
    if not args.check:
        OUTPUT.write_text(svg)
    elif not OUTPUT.exists() or OUTPUT.read_text() != svg:
        print(f"{OUTPUT.relative_to(REPO)} is stale: run python {Path(__file__).relative_to(REPO)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
