"""Headless OpenGL contexts (EGL), for the CLI, tests and benchmarks."""
from __future__ import annotations

import moderngl


class HeadlessContextError(RuntimeError):
    """No headless OpenGL context could be made; the message says why, in one line."""


def create_headless_context(require: int = 330) -> moderngl.Context:
    """A standalone moderngl context through EGL (no display needed), at least
    GL ``require`` (330 = 3.3 core; Mesa llvmpipe gives 4.5 with compute).

    The new context is current on the calling thread; make it current again
    with ``with ctx:`` after using another one, and free it with
    `release_headless_context`. It uses ``gc_mode="context_gc"``: GL objects dropped by Python are
    only freed on ``ctx.gc()`` from the thread that owns the context, never by
    the garbage collector on another thread. Raises `HeadlessContextError`
    with a clear message when EGL or a GL driver is missing."""
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=require)
    except Exception as e:  # noqa: BLE001 - glcontext raises plain Exceptions
        detail = " ".join(str(e).split()) or type(e).__name__
        raise HeadlessContextError(
            f"cannot create a headless OpenGL {require // 100}.{require % 100 // 10} context through EGL "
            f"({detail}); install libEGL and a Mesa driver (e.g. apt install libegl1 libgl1-mesa-dri)"
        ) from None
    ctx.gc_mode = "context_gc"
    return ctx


def release_headless_context(ctx: moderngl.Context) -> None:
    """Release a context made by `create_headless_context` so that it is no
    longer current on this thread.

    moderngl's ``release`` alone leaves the EGL context current, and with
    libglvnd a thread can have only one current context across EGL and GLX:
    Qt's GLX contexts made later in the same process (the app, GUI tests)
    would then fail to become current. Leaving a ``with ctx:`` block makes no
    context current."""
    with ctx:
        pass
    ctx.release()
