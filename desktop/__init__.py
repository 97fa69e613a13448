"""picdrop desktop: drop an image, get a link.

Qt-free on purpose: packaging reads the version here."""

APP_NAME = "picdrop"
APP_DISPLAY_NAME = "picdrop"
ORG_NAME = "picdrop"
# Reverse-DNS id: desktop file name, macOS bundle id, Windows AppUserModelID.
APP_ID = "org.picdrop.Picdrop"
# Desktop entry categories (the menu entry and the autostart one): one main category, Network,
# or menus list the app twice.
DESKTOP_CATEGORIES = "Network;FileTransfer;"
__version__ = "0.1.0"
