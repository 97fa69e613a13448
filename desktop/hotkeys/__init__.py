"""Global hotkeys: one backend per platform behind `HotkeyBackend`, driven by `HotkeyService`."""
