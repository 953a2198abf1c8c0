"""Typed access to the app's persistent settings (QSettings).

Everything the app remembers between runs goes through `AppSettings`: window
geometry and dock layout, recent files (with the up axis chosen for each),
the last folder used, and the render/navigation preferences. Values are
validated on the way out, so a hand-edited or stale settings file can never
crash the app.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "SplatForge"
APPLICATION = "SplatForge"
MAX_RECENT = 10


@dataclass
class Preferences:
    """Render and navigation preferences (the Render panel edits these)."""

    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # RGB in [0, 1]
    sh_degree: int = 3  # highest SH degree used for rendering (clamped to the scene's)
    splat_scale: float = 1.0  # multiplier on every splat's size
    interaction_budget: int = 0  # splats drawn while moving; 0 = automatic
    fov_y_deg: float = 50.0
    debug_view: str = "splats"  # "splats", "ellipses" or "points"
    show_fps: bool = True
    #: Vertical field of view assumed for a dropped photo, degrees: photos
    #: rarely carry usable intrinsics, so the user sets it (Render panel).
    photo_fov_deg: float = 50.0


class AppSettings:
    """Wrapper over QSettings. ``path``: an INI file to use instead of the
    user's native settings store (tests pass a temporary file)."""

    def __init__(self, path: os.PathLike | str | None = None):
        if path is not None:
            self.qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    # ------------------------------------------------------------ raw helpers
    def _get(self, key: str, default, kind):
        value = self.qs.value(key, default)
        try:
            if kind is bool:
                if isinstance(value, str):
                    return value.lower() in ("1", "true", "yes")
                return bool(value)
            return kind(value)
        except (TypeError, ValueError):
            return default

    def recovery_dir(self) -> Path:
        """Where autosaves (recovery files) go: ``recovery/`` next to the settings file."""
        return Path(self.qs.fileName()).resolve().parent / "recovery"

    def sync(self) -> None:
        self.qs.sync()

    # ------------------------------------------------------------ window
    def window_geometry(self) -> QByteArray | None:
        v = self.qs.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        v = self.qs.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)

    # ------------------------------------------------------------ files
    def recent_files(self) -> list[str]:
        v = self.qs.value("files/recent", [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, (list, tuple)):
            return []
        return [str(x) for x in v if isinstance(x, str) and x][:MAX_RECENT]

    def add_recent_file(self, path: os.PathLike | str) -> list[str]:
        p = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != p]
        files.insert(0, p)
        files = files[:MAX_RECENT]
        self.qs.setValue("files/recent", files)
        return files

    def remove_recent_file(self, path: os.PathLike | str) -> list[str]:
        p = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != p]
        self.qs.setValue("files/recent", files)
        return files

    def clear_recent_files(self) -> None:
        self.qs.setValue("files/recent", [])

    def last_folder(self) -> str:
        v = self._get("files/last_folder", "", str)
        return v if v and Path(v).is_dir() else str(Path.home())

    def set_last_folder(self, folder: os.PathLike | str) -> None:
        self.qs.setValue("files/last_folder", str(folder))

    def up_axis_for(self, path: os.PathLike | str) -> str | None:
        """The up-axis preset last chosen for this file, if any."""
        v = self.qs.value(f"up_axis/{_key(path)}")
        return str(v) if isinstance(v, str) and v else None

    def set_up_axis_for(self, path: os.PathLike | str, key: str) -> None:
        self.qs.setValue(f"up_axis/{_key(path)}", key)

    # ------------------------------------------------------------ preferences
    def preferences(self) -> Preferences:
        d = Preferences()
        bg = self.qs.value("prefs/background", None)
        background = d.background
        if isinstance(bg, (list, tuple)) and len(bg) == 3:
            try:
                background = tuple(min(max(float(x), 0.0), 1.0) for x in bg)
            except (TypeError, ValueError):
                pass
        view = self._get("prefs/debug_view", d.debug_view, str)
        return Preferences(
            background=background,
            sh_degree=min(max(self._get("prefs/sh_degree", d.sh_degree, int), 0), 3),
            splat_scale=min(max(self._get("prefs/splat_scale", d.splat_scale, float), 0.05), 10.0),
            interaction_budget=max(self._get("prefs/interaction_budget", d.interaction_budget, int), 0),
            fov_y_deg=min(max(self._get("prefs/fov_y_deg", d.fov_y_deg, float), 5.0), 150.0),
            debug_view=view if view in ("splats", "ellipses", "points") else d.debug_view,
            show_fps=self._get("prefs/show_fps", d.show_fps, bool),
            photo_fov_deg=min(max(self._get("prefs/photo_fov_deg", d.photo_fov_deg, float), 10.0), 120.0),
        )

    def save_preferences(self, p: Preferences) -> None:
        self.qs.setValue("prefs/background", [float(x) for x in p.background])
        self.qs.setValue("prefs/sh_degree", int(p.sh_degree))
        self.qs.setValue("prefs/splat_scale", float(p.splat_scale))
        self.qs.setValue("prefs/interaction_budget", int(p.interaction_budget))
        self.qs.setValue("prefs/fov_y_deg", float(p.fov_y_deg))
        self.qs.setValue("prefs/debug_view", p.debug_view)
        self.qs.setValue("prefs/show_fps", bool(p.show_fps))
        self.qs.setValue("prefs/photo_fov_deg", float(p.photo_fov_deg))


def _key(path: os.PathLike | str) -> str:
    # QSettings treats "/" and "\" as group separators: use a hash of the path.
    return hashlib.sha1(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:16]
