"""The PySide6 desktop app (the only package that imports Qt or pyqtgraph).

Start it with `app.bootstrap.run_app`; `splatforge view` does.
"""
