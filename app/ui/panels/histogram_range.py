"""Range selection on the Statistics panel's histograms (pyqtgraph).

A left drag on a histogram places a band (`pyqtgraph.LinearRegionItem`)
between where the drag started and the cursor; the band's body and edges can
then be dragged to adjust it (with Shift or Ctrl held a drag always starts a
new band, even over the old one). Every change reports the band's range through
`RangeSelector`'s signals and the window turns it into a selection (one undo
step per drag, see `app.ui.splat_editing`). Shift at the start of a new band
adds to the selection, Ctrl subtracts, nothing replaces. A click beside the
band, or Esc while no drag is under way, removes the band (the selection
stays); Esc during a drag cancels that drag. One band at a time, over all
histograms.

Imported lazily (with pyqtgraph, ~0.4 s) when the plots are first built.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal

from app.ui.tools.select import selection_mode

BAND_BRUSH = (255, 170, 40, 60)
BAND_HOVER_BRUSH = (255, 170, 40, 90)
BAND_PEN = (255, 170, 40, 220)


def _modified(ev) -> bool:
    return bool(ev.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier))


class Band(pg.LinearRegionItem):
    """The band. A plain drag on it (or on an edge) adjusts it; a drag with
    Shift or Ctrl starts a new band instead (add / subtract), even inside it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for line in self.lines:
            line.mouseDragEvent = self._line_drag(line.mouseDragEvent)

    @staticmethod
    def _line_drag(handler):
        def drag(ev):
            if ev.isStart() and _modified(ev):
                ev.ignore()  # the view box under it starts a new band
                return
            handler(ev)
        return drag

    def mouseDragEvent(self, ev) -> None:
        if ev.isStart() and _modified(ev):
            ev.ignore()
            return
        super().mouseDragEvent(ev)


class RangeViewBox(pg.ViewBox):
    """A ViewBox whose left drag draws the selector's band instead of panning."""

    def __init__(self, selector: "RangeSelector", key: str):
        super().__init__(enableMenu=False)
        self.selector, self.key = selector, key
        self.setMouseEnabled(x=False, y=False)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        x0 = self.mapSceneToView(ev.buttonDownScenePos()).x()
        x = self.mapSceneToView(ev.scenePos()).x()
        if ev.isStart():
            self.selector.begin_band(self.key, x0, selection_mode(ev.modifiers()))
        self.selector.drag_band(self.key, x0, x, finished=ev.isFinish())

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        shown = self.selector.region()
        x = self.mapSceneToView(ev.scenePos()).x()
        if shown is None or shown[0] != self.key or not shown[1] <= x <= shown[2]:
            self.selector.clear(notify=True)  # a click beside the band removes it


class RangeSelector(QObject):
    """The band state for a set of histogram plots.

    Signals: ``started(key, mode)`` when a new band is drawn (the selection
    it combines with is the current one); ``changed(key, lo, hi, mode,
    gesture, finished)`` for every change of the band while dragging (a
    ``gesture`` id per drag, for one undo step per drag; ``lo`` / ``hi`` in
    the plot's x units, -inf / +inf where the band reaches past the first /
    last histogram bin, so outliers clipped into those bins are included);
    ``cancelled(gesture)`` when Esc stopped a drag; ``cleared()`` when the
    band was removed by the user."""

    started = Signal(str, str)
    changed = Signal(str, float, float, str, object, bool)
    cancelled = Signal(object)
    cleared = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bands: dict[str, pg.LinearRegionItem] = {}
        self.extents: dict[str, tuple[float, float]] = {}
        self.key: str | None = None  # the plot holding the band
        self.mode = "replace"
        self._gesture = 0
        self._dragging = False
        self._ignored_drag = False  # Esc cancelled this drag: ignore its remaining events
        self._programmatic = False

    # ------------------------------------------------------------ building
    def view_box(self, key: str) -> RangeViewBox:
        return RangeViewBox(self, key)

    def attach(self, key: str, plot) -> None:
        """Give ``plot`` (a PlotItem made with `view_box(key)`) its band, hidden."""
        band = Band(values=(0.0, 0.0), brush=pg.mkBrush(*BAND_BRUSH), hoverBrush=pg.mkBrush(*BAND_HOVER_BRUSH),
                    pen=pg.mkPen(BAND_PEN, width=1.5))
        band.setZValue(10)
        band.hide()
        band.sigRegionChanged.connect(lambda _b, k=key: self._band_moved(k, finished=False))
        band.sigRegionChangeFinished.connect(lambda _b, k=key: self._band_moved(k, finished=True))
        plot.addItem(band, ignoreBounds=True)
        self.bands[key] = band

    def set_extent(self, key: str, lo: float, hi: float) -> None:
        """The histogram's first and last bin edges (for the open ends)."""
        self.extents[key] = (float(lo), float(hi))

    # ------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        """A drag of the band is under way."""
        return self._dragging

    def region(self) -> tuple[str, float, float] | None:
        """(key, lo, hi) of the band shown (plot x units, before opening the ends), or None."""
        if self.key is None:
            return None
        lo, hi = self.bands[self.key].getRegion()
        return self.key, float(lo), float(hi)

    def clear(self, notify: bool = False) -> None:
        """Remove the band (the selection is left as it is)."""
        had = self.key is not None
        self._dragging = False
        self.key = None
        for band in self.bands.values():
            band.hide()
        if had and notify:
            self.cleared.emit()

    def cancel(self) -> bool:
        """Esc: stop a drag in progress (reported with `cancelled`) or remove an idle band."""
        if self._dragging:
            gesture = self._gesture
            self._ignored_drag = True
            self.clear()
            self.cancelled.emit(gesture)
            return True
        if self.key is not None:
            self.clear(notify=True)
            return True
        return False

    # ------------------------------------------------------------ events
    def begin_band(self, key: str, x0: float, mode: str) -> None:
        self._ignored_drag = False
        self.clear()
        self.key, self.mode = key, mode
        self._gesture += 1
        self._dragging = True
        self._set_band(key, x0, x0)
        self.bands[key].show()
        self.started.emit(key, mode)

    def drag_band(self, key: str, x0: float, x: float, finished: bool) -> None:
        if self._ignored_drag or self.key != key:
            if finished:
                self._ignored_drag = False
            return
        self._set_band(key, min(x0, x), max(x0, x))
        self._report(key, finished)

    def _band_moved(self, key: str, finished: bool) -> None:
        """The user dragged the band or one of its edges."""
        if self._programmatic or self.key != key:
            return
        if self._ignored_drag:
            if finished:
                self._ignored_drag = False
            return
        if not self._dragging:
            self._gesture += 1
            self._dragging = True
        self._report(key, finished)

    def _set_band(self, key: str, lo: float, hi: float) -> None:
        self._programmatic = True
        try:
            self.bands[key].setRegion((lo, hi))
        finally:
            self._programmatic = False

    def _report(self, key: str, finished: bool) -> None:
        lo, hi = self.bands[key].getRegion()
        first, last = self.extents.get(key, (-math.inf, math.inf))
        lo = -math.inf if lo <= first else float(lo)
        hi = math.inf if hi >= last else float(hi)
        gesture = self._gesture
        if finished:
            self._dragging = False
        self.changed.emit(key, lo, hi, self.mode, gesture, finished)


class EscapeFilter(QObject):
    """Lets Esc over the plots go to the selector (not the window's Esc
    shortcut, which cancels jobs) while it has something to cancel."""

    def __init__(self, selector: RangeSelector, parent=None):
        super().__init__(parent)
        self.selector = selector

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape \
                and (self.selector.busy or self.selector.key is not None):
            event.accept()
            return True
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape and self.selector.cancel():
            event.accept()
            return True
        return False
