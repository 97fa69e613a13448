"""Loading and saving `AppConfig` with QSettings (the platform's native settings store)."""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import QSettings

from desktop import APP_NAME, ORG_NAME
from desktop.core.config import AppConfig
from desktop.core.links import LinkFormat


def open_qsettings() -> QSettings:
    """The user's settings, as the app sees them; explicit names, so that the `picdrop` command
    (which has no QApplication) reads the very same store."""
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORG_NAME, APP_NAME)


class SettingsStore:
    def __init__(self, qsettings: QSettings) -> None:
        self.qsettings = qsettings

    def load(self) -> AppConfig:
        config = AppConfig()
        for f in fields(AppConfig):
            default = getattr(config, f.name)
            raw = self.qsettings.value(f.name)
            if raw is None:
                continue
            setattr(config, f.name, _coerce(raw, default))
        config.parallel_uploads = min(10, max(1, config.parallel_uploads))
        return config

    def save(self, config: AppConfig) -> None:
        for f in fields(AppConfig):
            value = getattr(config, f.name)
            self.qsettings.setValue(f.name, str(value) if isinstance(value, LinkFormat) else value)
        self.qsettings.sync()


def _coerce(raw: object, default: object) -> object:
    """QSettings' INI and native backends return strings for everything; map back by type."""
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
    if isinstance(default, int):
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
    if isinstance(default, LinkFormat):
        return LinkFormat.parse(str(raw), default)
    return str(raw)
