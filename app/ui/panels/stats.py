"""The Statistics panel: what is in the scene, and histograms of opacity,
scale and colour (pyqtgraph). A drag on a histogram selects the splats in
that range (`app.ui.panels.histogram_range`; the panel only reports the
range, the window turns it into a selection)."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.ui.jobs import Histogram, LoadedScene

_FIELDS = (
    ("file", "File"),
    ("format", "Format"),
    ("count", "Splats"),
    ("selected", "Selected"),
    ("sh_degree", "SH degree"),
    ("bounds", "Bounds"),
    ("size", "Size"),
    ("memory", "Memory"),
    ("opacity", "Opacity"),
    ("scale", "Largest scale"),
    ("extras", "Extra attributes"),
    ("load_time", "Load time"),
)


def _vec(v) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def _summary(s: dict | None) -> str:
    if not s:
        return "-"
    return f"median {s['median']:.3g}  (p5 {s['p05']:.3g}, p95 {s['p95']:.3g})"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return str(n)


class StatsPanel(QWidget):
    """Scene statistics; `show_scene` fills it in, `clear` empties it.
    The histogram plots are built on first use (pyqtgraph costs ~0.4 s to
    import, which would otherwise delay the first frame).

    Range selection: ``range_started(key, mode)`` when a band is drawn on
    the ``key`` histogram ("opacity", "scale" in log10 world units, or
    "colour"), ``range_changed(key, lo, hi, mode, gesture, finished)`` as it
    is dragged, ``range_cancelled(gesture)`` when Esc stopped a drag;
    `clear_range` removes the band."""

    range_started = Signal(str, str)
    range_changed = Signal(str, float, float, str, object, bool)
    range_cancelled = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statsPanel")
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, title in _FIELDS:
            lab = QLabel("-")
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lab.setWordWrap(True)
            self.labels[key] = lab
            form.addRow(title, lab)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addLayout(form)
        self.plots = None  # pyqtgraph GraphicsLayoutWidget, built lazily
        self.ranges = None  # its RangeSelector (app.ui.panels.histogram_range)
        self.curves: dict[str, object] = {}
        self.layout_.addStretch(1)

    def values(self) -> dict[str, str]:
        """The texts shown, by field key (for tests and the status bar)."""
        return {k: lab.text() for k, lab in self.labels.items()}

    def clear(self) -> None:
        for lab in self.labels.values():
            lab.setText("-")
        if self.plots is not None:
            for item in self.curves.values():
                item.setData([0, 1], [0])
        self.clear_range()

    def clear_range(self) -> None:
        """Remove the range band from the histograms (the selection stays)."""
        if self.ranges is not None:
            self.ranges.clear()

    def show_scene(self, scene: LoadedScene) -> None:
        s = scene.stats
        lo, hi = np.asarray(s["bounds_min"]), np.asarray(s["bounds_max"])
        version = f" ({scene.loaded.version})" if scene.loaded.version else ""
        texts = {
            "file": os.fspath(scene.path),
            "format": f"{scene.loaded.format}{version}",
            "count": f"{s['count']:,}",
            "sh_degree": str(s["sh_degree"]),
            "bounds": f"{_vec(lo)} to {_vec(hi)}",
            "size": _vec(hi - lo),
            "memory": f"{_bytes(s['memory_bytes'])} decoded",
            "opacity": _summary(s.get("opacity")),
            "scale": _summary(s.get("scale_max_axis")),
            "extras": ", ".join(s.get("extra_attributes", [])) or "none",
            "load_time": f"{scene.seconds * 1000:.0f} ms",
        }
        for k, v in texts.items():
            self.labels[k].setText(v)
        self.labels["file"].setToolTip(texts["file"])

    def show_counts(self, live: int, selected: int, hidden: int = 0) -> None:
        """The document's splat counts after edits: live (not deleted), selected, hidden."""
        self.labels["count"].setText(f"{live:,}" + (f" ({hidden:,} hidden)" if hidden else ""))
        self.labels["selected"].setText(f"{selected:,}")

    def show_histograms(self, histograms: dict[str, Histogram]) -> None:
        """Draw the histograms (builds the plots on first call)."""
        self._ensure_plots()
        for key, item in self.curves.items():
            h = histograms.get(key)
            if h is None:
                item.setData([0, 1], [0])
            else:
                item.setData(h.edges, h.counts)
                band = "colour" if key in ("r", "g", "b") else key
                self.ranges.set_extent(band, h.edges[0], h.edges[-1])
        for key, plot in self._plot_items.items():
            plot.enableAutoRange()

    def _ensure_plots(self) -> None:
        if self.plots is not None:
            return
        os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
        import pyqtgraph as pg

        from app.ui.panels.histogram_range import EscapeFilter, RangeSelector

        pg.setConfigOptions(antialias=False, background="#202124", foreground="#c8c8c8")
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setObjectName("histograms")
        self.plots.setMinimumHeight(380)
        self.plots.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.plots.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Esc over the plots cancels a range drag
        self.plots.setToolTip("Drag across a histogram to select the splats in that range "
                              "(Shift adds, Ctrl subtracts; drag the band or its edges to adjust; Esc clears)")
        self.ranges = RangeSelector(self)
        self.ranges.started.connect(self.range_started)
        self.ranges.changed.connect(self.range_changed)
        self.ranges.cancelled.connect(self.range_cancelled)
        self.plots.installEventFilter(EscapeFilter(self.ranges, self))
        self._plot_items = {}
        specs = (
            ("opacity", "Opacity", [("opacity", (230, 230, 230))]),
            ("scale", "log10 largest scale", [("scale", (120, 200, 255))]),
            ("colour", "Base colour", [("r", (255, 90, 90)), ("g", (90, 220, 90)), ("b", (100, 140, 255))]),
        )
        for row, (key, title, series) in enumerate(specs):
            plot = self.plots.addPlot(row=row, col=0, title=title, viewBox=self.ranges.view_box(key))
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(42)
            self._plot_items[key] = plot
            for name, colour in series:
                fill = (*colour, 60) if len(series) == 1 else None
                item = pg.PlotDataItem(
                    [0, 1], [0], stepMode="center", pen=pg.mkPen(colour, width=1.5),
                    fillLevel=0 if fill else None, brush=fill,
                )
                plot.addItem(item)
                self.curves[name] = item
            self.ranges.attach(key, plot)
        # Replace the trailing stretch with the plots.
        self.layout_.takeAt(self.layout_.count() - 1)
        self.layout_.addWidget(self.plots, 1)
